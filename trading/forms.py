"""Forms of the trading pages: they only parse; the services check formats and verify with the broker."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from trading.models import BrokerEnvironment, BrokerKind
from trading.risk import DEFAULT_MAX_ORDER_VALUE, amount

ORDER_VALUE_HELP = _("The largest value one order may have; empty for the platform's limit of %(maximum)s KRW.")
REAL_BROKERS = [(BrokerKind.KIS.value, BrokerKind.KIS.label), (BrokerKind.KIWOOM.value, BrokerKind.KIWOOM.label)]


class ConnectForm(forms.Form):
    broker = forms.ChoiceField(label=_("Broker"), choices=REAL_BROKERS)
    environment = forms.ChoiceField(
        label=_("Environment"), choices=BrokerEnvironment.choices, initial=BrokerEnvironment.MOCK,
        help_text=_("Start with mock trading (모의투자): it uses separate keys and a separate account number."),
    )
    nickname = forms.CharField(label=pgettext_lazy("broker account", "Account name"), max_length=60, initial=_("My account"))
    account_no = forms.CharField(
        label=_("Account number"), max_length=20,
        help_text=_("KIS: 8 digits and the 2-digit product code (12345678-01). Kiwoom: 10 digits."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    hts_id = forms.CharField(label=_("HTS ID (KIS)"), max_length=32, required=False,
                             help_text=_("Needed for live fill notices from KIS."))
    app_key = forms.CharField(label=_("App key"), max_length=400,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    app_secret = forms.CharField(
        label=_("App secret"), max_length=800,
        help_text=_("Stored encrypted. It is never shown again, not even to you."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class PaperForm(forms.Form):
    nickname = forms.CharField(label=pgettext_lazy("broker account", "Account name"), max_length=60, initial=_("Paper account"))
    cash = forms.IntegerField(label=_("Virtual cash (KRW)"), initial=10_000_000,
                              help_text=_("From 1,000,000 to 10,000,000,000 KRW."))


class RotateForm(forms.Form):
    app_key = forms.CharField(label=_("New app key"), max_length=400,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    app_secret = forms.CharField(label=_("New app secret"), max_length=800,
                                 widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class RenameForm(forms.Form):
    nickname = forms.CharField(label=pgettext_lazy("broker account", "Account name"), max_length=60)


class LimitsForm(forms.Form):
    """The account's own caps; empty fields mean the platform's defaults (the service checks the ranges)."""

    max_order_value = forms.DecimalField(
        label=_("Maximum order value (KRW)"), required=False, max_digits=18, decimal_places=0,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "1"}))
    max_position_share = forms.DecimalField(
        label=_("Maximum position share (%)"), required=False, max_digits=5, decimal_places=2,
        help_text=_("The largest share of the account one symbol may reach after a buy; empty for no cap."),
        widget=forms.NumberInput(attrs={"step": "0.01"}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["max_order_value"].help_text = ORDER_VALUE_HELP % {"maximum": amount(DEFAULT_MAX_ORDER_VALUE)}
