import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import COMMON_TIMEZONES, Language, Theme


def timezone_choices() -> list[tuple[str, str]]:
    others = sorted(zoneinfo.available_timezones() - set(COMMON_TIMEZONES))
    return [(name, name) for name in COMMON_TIMEZONES] + [(name, name) for name in others]


class PreferencesForm(forms.Form):
    """Any subset may be posted (the quick switchers send one field)."""

    theme = forms.ChoiceField(label=_("Theme"), choices=Theme.choices, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices, required=False)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices, required=False)
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)

    def changes(self) -> dict[str, str]:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name in self.data and (value or name == "display_name")
        }
