"""Form and widget rendering: Django's own form templates through Jinja2, the rest through Django's engine.

Django ships every built-in form and widget template twice, for its template language and for Jinja2,
with the same output (apart from blank lines between a select's options). A form page renders a label
and a widget template per field, a select one more per option: through Jinja2 those take about half
the time (``python -m bench.pages``: /backtests/new/ 20 -> 12 ms). Templates Django has only for its
own engine (the admin's widget wrappers, any project widget) still render through it.
"""

from __future__ import annotations

from functools import cached_property

from django.forms.renderers import BaseRenderer, DjangoTemplates, Jinja2
from django.template import TemplateDoesNotExist

BUILT_IN = "django/forms/"


class FormRenderer(BaseRenderer):
    @cached_property
    def _jinja2(self) -> Jinja2:
        return Jinja2()

    @cached_property
    def _django(self) -> DjangoTemplates:
        return DjangoTemplates()

    def get_template(self, template_name: str):
        if template_name.startswith(BUILT_IN):
            try:
                return self._jinja2.get_template(template_name)
            except TemplateDoesNotExist:
                pass
        return self._django.get_template(template_name)
