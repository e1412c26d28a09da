"""The risk settings page (/trading/risk-settings/): the user's own spread rules. A door: the form
parses, ``risk_settings_update`` checks and saves, a wrong value shows on its field."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from core.audit import Actor
from core.errors import ApplicationError
from trading.live.forms_risk import RiskSettingsForm
from trading.live.risk_settings import FIELDS, risk_settings_get, risk_settings_update

SAVED = _("Your risk settings were saved; they apply from your deployments' next decision.")


@login_required
def risk_settings(request: HttpRequest) -> HttpResponse:
    current = risk_settings_get(user=request.user)
    form = RiskSettingsForm(request.POST or None,
                            initial={field: getattr(current, field) for field in FIELDS})
    if request.method == "POST" and form.is_valid():
        try:
            risk_settings_update(actor=Actor.from_request(request), user=request.user, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, SAVED)
            return redirect("trading:risk_settings")
    return render(request, "trading/live/risk_settings.html", {"page_title": _("Risk settings"), "nav": "trading",
                                                               "form": form})
