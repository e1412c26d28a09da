"""The form of a user's risk settings: empty fields mean no limit (the service checks the ranges)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


def _percent(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(label=label, help_text=help_text, required=False,
                              widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "max": "100",
                                                              "inputmode": "decimal"}))


class RiskSettingsForm(forms.Form):
    max_symbol_share = _percent(
        _("Most of your equity in one symbol (%)"),
        _("No buy of your deployments may raise one symbol above this share of your equity; a larger buy is "
          "trimmed to fit."))
    max_sector_share = _percent(
        _("Most of your equity in one sector (%)"),
        _("The same for all the symbols of one sector together (for example semiconductors)."))
    max_symbols = forms.IntegerField(
        label=_("Most symbols held"), required=False,
        help_text=_("Once you hold this many symbols, your deployments buy no new one."),
        widget=forms.NumberInput(attrs={"step": "1", "min": "1", "inputmode": "numeric"}))
    daily_loss_limit = _percent(
        _("Daily loss limit (percent of equity)"),
        _("When today's loss reaches this share of your equity at the start of the day, every deployment of "
          "yours is paused and buys nothing more."))
