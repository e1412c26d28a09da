"""Form fields shared by the apps' forms."""

from __future__ import annotations

from django import forms


class ReadOnceChoiceIterator(forms.models.ModelChoiceIterator):
    """Django's iterator reads the queryset on every pass, and a required ``<select>`` is passed over
    twice (its options, and the check whether its first option is empty): here the rows are read on
    the first pass and kept on the form's field (a form's own copy) until its queryset changes."""

    def __iter__(self):
        kept = getattr(self.field, "_choices_read", None)
        if kept is None or kept[0] is not self.queryset:
            kept = (self.queryset, list(super().__iter__()))
            self.field._choices_read = kept
        yield from kept[1]

    def __len__(self) -> int:
        kept = getattr(self.field, "_choices_read", None)
        return len(kept[1]) if kept is not None and kept[0] is self.queryset else super().__len__()


class ReadOnceModelChoiceField(forms.ModelChoiceField):
    iterator = ReadOnceChoiceIterator
