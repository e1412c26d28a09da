"""Forms of the order pages: they only parse what the browser sends. The rules (tick, limits, cash,
duplicates, kill switches) are ``trading.orders.place``'s; its failures land on these fields."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.form_fields import ReadOnceModelChoiceField
from trading import selectors as account_selectors
from trading.models import BrokerAccount
from trading.orders.models import OrderSide, OrderState

SYMBOL_MAX = 20
REASON_MAX = 300
MAX_AMOUNT = Decimal(10_000_000_000)  # KRW: far above any account's limit, only a bound for parsing

QUANTITY, AMOUNT = "quantity", "amount"
LIMIT, MARKET = "limit", "market"
OPEN_STATES = "open"  # the state filter's "still open or unresolved" choice

MESSAGE_QUANTITY_NEEDED = _("Enter the quantity.")
MESSAGE_AMOUNT_NEEDED = _("Enter the amount in KRW.")
MESSAGE_PRICE_NEEDED = _("A limit order needs a price.")
MESSAGE_DATES = _("The start date is after the end date.")


class AccountLabelMixin:
    """Accounts shown by their name and broker (the user's own accounts only)."""

    def _label_accounts(self, name: str) -> None:
        field = self.fields[name]  # type: ignore[attr-defined]
        field.label_from_instance = lambda account: f"{account.nickname} · {account.get_broker_display()}"


class OrderFilterForm(AccountLabelMixin, forms.Form):
    """The filters of the order list (GET); every field optional."""

    account = forms.ModelChoiceField(label=_("Account"), queryset=BrokerAccount.objects.none(), required=False,
                                     empty_label=_("All accounts"))
    state = forms.ChoiceField(label=_("State"), required=False)
    symbol = forms.CharField(label=_("Symbol"), max_length=SYMBOL_MAX, required=False,
                             widget=forms.TextInput(attrs={"size": 8, "autocomplete": "off"}))
    day = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["account"].queryset = account_selectors.broker_account_list(user=user)
        self._label_accounts("account")
        self.fields["state"].choices = [("", _("All")), (OPEN_STATES, _("Open or unresolved")),
                                        *OrderState.choices]

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()


class TicketForm(AccountLabelMixin, forms.Form):
    """The order ticket. ``mode`` says whether ``quantity`` or ``amount`` (KRW, turned into a
    quantity at the price) is the size; ``intent_id`` makes a double submit one order."""

    account = ReadOnceModelChoiceField(label=_("Account"), queryset=BrokerAccount.objects.none(), empty_label=None)
    symbol = forms.CharField(label=_("Symbol"), max_length=SYMBOL_MAX, widget=forms.TextInput(
        attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": _("Code, e.g. 005930")}))
    side = forms.ChoiceField(label=_("Side"), choices=OrderSide.choices, widget=forms.RadioSelect, initial="buy")
    order_type = forms.ChoiceField(label=_("Order type"), widget=forms.RadioSelect, initial=LIMIT, choices=[
        (LIMIT, pgettext_lazy("order type", "Limit")), (MARKET, pgettext_lazy("order type", "Market"))])
    price = forms.DecimalField(label=_("Price (KRW)"), required=False, min_value=Decimal("0.00000001"),
                               max_digits=20, decimal_places=8,
                               widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    mode = forms.ChoiceField(label=_("Size by"), widget=forms.RadioSelect, initial=QUANTITY, choices=[
        (QUANTITY, _("Quantity")), (AMOUNT, _("Amount (KRW)"))])
    quantity = forms.DecimalField(label=_("Quantity"), required=False, min_value=Decimal("0.00000001"),
                                  max_digits=20, decimal_places=8,
                                  widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    amount = forms.DecimalField(label=_("Amount (KRW)"), required=False, min_value=Decimal(1),
                                max_value=MAX_AMOUNT, decimal_places=0,
                                help_text=_("The quantity is what this amount buys at the price, commission "
                                            "included, rounded down to whole lots."),
                                widget=forms.NumberInput(attrs={"step": "1", "inputmode": "numeric"}))
    intent_id = forms.UUIDField(widget=forms.HiddenInput)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("intent_id", uuid.uuid4())
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["account"].queryset = account_selectors.broker_account_list(user=user)
        self._label_accounts("account")

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("order_type") == LIMIT and data.get("price") is None and "price" not in self.errors:
            self.add_error("price", MESSAGE_PRICE_NEEDED)
        if data.get("order_type") == MARKET:
            data["price"] = None
        mode = data.get("mode")
        if mode == QUANTITY and data.get("quantity") is None and "quantity" not in self.errors:
            self.add_error("quantity", MESSAGE_QUANTITY_NEEDED)
        if mode == AMOUNT and data.get("amount") is None and "amount" not in self.errors:
            self.add_error("amount", MESSAGE_AMOUNT_NEEDED)
        return data


class ReviseForm(forms.Form):
    """A new limit price (and optionally part of what remains) for an open order (정정)."""

    price = forms.DecimalField(label=_("New price (KRW)"), min_value=Decimal("0.00000001"), max_digits=20,
                               decimal_places=8,
                               widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    quantity = forms.DecimalField(label=_("Quantity to revise"), required=False, min_value=Decimal("0.00000001"),
                                  max_digits=20, decimal_places=8,
                                  help_text=_("Leave empty to revise everything still open."),
                                  widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)


class FillFilterForm(AccountLabelMixin, forms.Form):
    """The account and date range of the fills history (and its CSV)."""

    account = forms.ModelChoiceField(label=_("Account"), queryset=BrokerAccount.objects.none(), required=False,
                                     empty_label=None)
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["account"].queryset = account_selectors.broker_account_list(user=user)
        self._label_accounts("account")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", MESSAGE_DATES)
        return data


class KillSwitchForm(forms.Form):
    """Pull or release the switch of one account (``account``) or of all the user's accounts."""

    PULL, RELEASE = "pull", "release"

    action = forms.ChoiceField(choices=[(PULL, PULL), (RELEASE, RELEASE)], widget=forms.HiddenInput)
    account = forms.ModelChoiceField(queryset=BrokerAccount.objects.none(), required=False, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX, required=False,
                             widget=forms.TextInput(attrs={"placeholder": _("e.g. the market is moving too fast")}))
    cancel_open_orders = forms.BooleanField(label=_("Also cancel my open orders"), required=False)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["account"].queryset = account_selectors.broker_account_list(user=user)


class ResolveForm(forms.Form):
    """Why the broker's figures for a mismatched position are right."""

    reason = forms.CharField(label=_("Why are the broker's figures right?"), max_length=500)
