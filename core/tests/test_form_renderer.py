"""The form renderer (Jinja2 for Django's own form templates) gives the markup Django's template
engine gives, for the project's forms bound and unbound, with errors; the admin's widgets still render."""

from __future__ import annotations

import re

import pytest
from django.forms.renderers import DjangoTemplates
from django.utils import translation

from accounts.forms import PreferencesForm
from accounts.tests.factories import UserFactory
from backtests.forms import BacktestForm, SweepForm
from core.form_renderer import FormRenderer
from notifications.feedback_forms import FeedbackForm
from strategies.forms import StrategyForm, WatchlistForm
from trading.orders.forms import FillFilterForm, OrderFilterForm, TicketForm

pytestmark = pytest.mark.django_db

FORMS = [
    (BacktestForm, True), (SweepForm, True), (StrategyForm, True), (WatchlistForm, False), (FeedbackForm, False),
    (PreferencesForm, False), (TicketForm, True), (OrderFilterForm, True), (FillFilterForm, True),
]  # fmt: skip


def _markup(form) -> str:
    parts = []
    for field in form:
        parts += [field.label_tag(), str(field), str(field.errors)]
    parts.append(str(form.non_field_errors()))
    # Django's two template sets differ only in whitespace a browser collapses: runs of it, and around
    # block elements (a select's options, a radio list's divs)
    html = re.sub(r"\s+", " ", "\n".join(parts))
    html = re.sub(r'name="(submission_key|intent_id)" value="[^"]+"', r'name="\1" value="(fresh)"', html)
    html = html.replace("&#39;", "&#x27;")  # the same apostrophe, escaped by MarkupSafe and by Django
    return re.sub(r" ?(</?(?:div|select|option|optgroup|ul|li)\b[^>]*>) ?", r"\1", html)


@pytest.mark.parametrize(("form_class", "needs_user"), FORMS, ids=[f.__name__ for f, _ in FORMS])
@pytest.mark.parametrize("bound", [False, True], ids=["unbound", "bound with errors"])
@pytest.mark.parametrize("language", ["ko", "en"])
def test_every_form_renders_the_same_markup_as_with_django_templates(form_class, needs_user, bound, language):
    user = UserFactory()
    kwargs = {"user": user} if needs_user else {}
    data = {"name": "<b>x</b>", "codes": "bad code", "initial_cash": "-1", "what_happened": "", "quantity": "abc"}
    with translation.override(language):
        forms = [form_class(data if bound else None, renderer=renderer, **kwargs)
                 for renderer in (DjangoTemplates(), FormRenderer())]
        if bound:
            assert forms[0].is_valid() == forms[1].is_valid()
        markup = _markup(forms[1])
        assert markup == _markup(forms[0])
    assert "<select" in markup or "<input" in markup or "<textarea" in markup


def test_the_admin_change_form_with_its_widget_wrappers_renders(admin_client):
    user = UserFactory(email="someone@example.com")
    page = admin_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == 200 and b"someone@example.com" in page.content
