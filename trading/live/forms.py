"""Forms of the deployment pages: they only parse what the browser sends. The rules (ownership,
plan limits, capital against the account's equity, known symbols, the real-money confirmation and
second factor) are ``trading.live.services``'; their errors land on these fields.

The go-live wizard has three steps, each a form: ``StrategyStepForm`` (strategy and account),
``SetupStepForm`` (name, capital, symbols, timing) and ``ReviewStepForm`` (the real-money
confirmation and the 2FA code). Later steps carry the earlier ones' fields as hidden inputs, so
nothing typed is lost on an error or on the way back.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core import limits
from core.form_fields import ReadOnceModelChoiceField
from strategies import selectors as strategy_selectors
from strategies.models import Strategy
from trading import selectors as account_selectors
from trading.live.models import DeploymentTiming
from trading.live.overview import KIND_LABELS, account_kind
from trading.live.services import replay_account_ids
from trading.models import BrokerAccount

SYMBOLS_MAX = 200  # codes in one field; the plan's limit is the services'
MESSAGE_SYMBOLS_TOO_MANY = _("Give at most 200 symbols.")
STEP1_FIELDS = ("strategy", "account")
STEP2_FIELDS = ("name", "capital", "symbols", "timing", "interval_minutes")
STEP3_FIELDS = ("confirm_real", "otp_code")


def split_symbols(text: str) -> list[str]:
    """Codes typed with spaces, commas or new lines between them, upper-cased, once each."""
    return list(dict.fromkeys(code.upper() for code in re.split(r"[\s,;]+", text or "") if code))


def account_label(account: BrokerAccount) -> str:
    kind = KIND_LABELS[account_kind(account)]
    return f"{account.nickname} · {account.get_broker_display()} · {kind}"


class SymbolsField(forms.CharField):
    """Codes as text (``005930 000660``) → a list of codes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return " ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value: Any) -> list[str]:
        codes = split_symbols(super().to_python(value))
        if len(codes) > SYMBOLS_MAX:
            raise forms.ValidationError(MESSAGE_SYMBOLS_TOO_MANY)
        return codes


class StrategyStepForm(forms.Form):
    strategy = ReadOnceModelChoiceField(label=_("Strategy"), queryset=Strategy.objects.none(), empty_label=None)
    account = forms.ModelChoiceField(label=_("Broker account"), queryset=BrokerAccount.objects.none(),
                                     empty_label=None, widget=forms.RadioSelect)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)
        self.fields["strategy"].queryset = strategy_selectors.strategy_choices(user=user)
        # paper accounts first: trying a strategy with virtual money is the default
        usable = account_selectors.broker_account_list(user=user).exclude(pk__in=replay_account_ids(user=user))
        accounts = sorted(usable, key=lambda a: (not a.is_paper, a.created_at, a.pk))
        self.fields["account"].queryset = usable
        self.fields["account"].choices = [(account.pk, account_label(account)) for account in accounts]
        self.accounts = accounts
        if not self.is_bound and "account" not in self.initial and accounts:
            self.initial["account"] = accounts[0].pk


class SetupStepForm(forms.Form):
    name = forms.CharField(label=_("Deployment name"), max_length=100, required=False,
                           help_text=_("Leave empty to use the strategy's name."))
    capital = forms.DecimalField(label=_("Capital (KRW)"), min_value=1, max_value=limits.MAX_MONEY_KRW,
                                 decimal_places=0,
                                 help_text=_("The deployment spends only this allotment of the account."),
                                 widget=forms.NumberInput(attrs={"step": "1", "inputmode": "numeric"}))
    symbols = SymbolsField(label=_("Symbols"), required=False,
                           help_text=_("Codes separated by spaces, e.g. 005930 000660. The strategy's universe "
                                       "when left as it is."))
    timing = forms.ChoiceField(label=_("When it acts"), choices=DeploymentTiming.choices,
                               initial=DeploymentTiming.OPEN, widget=forms.RadioSelect)
    interval_minutes = forms.IntegerField(label=_("Every (minutes)"), required=False, min_value=1, max_value=390,
                                          widget=forms.NumberInput(attrs={"inputmode": "numeric"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)


class ReviewStepForm(forms.Form):
    confirm_real = forms.BooleanField(
        label=_("I understand that this deployment places real orders with real money in my account."),
        required=False)
    otp_code = forms.CharField(label=_("2FA code"), max_length=20, required=False,
                               help_text=_("The code of your authenticator app (or a recovery code)."),
                               widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                             "spellcheck": "false"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, label_suffix="", **kwargs)


class EditForm(SetupStepForm):
    """Change a deployment: capital, symbols, timing, interval, name; and take the strategy's
    current parameters and risk rules (``apply_strategy``)."""

    name = forms.CharField(label=_("Deployment name"), max_length=100)
    symbols = SymbolsField(label=_("Symbols"), help_text=_("Codes separated by spaces, e.g. 005930 000660."))
    apply_strategy = forms.BooleanField(label=_("Apply the strategy's current parameters and risk rules"),
                                        required=False)


class StopForm(forms.Form):
    close_positions = forms.BooleanField(label=_("Also sell what it holds"), required=False)


class PauseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


__all__ = ["EditForm", "PauseForm", "ReviewStepForm", "STEP1_FIELDS", "STEP2_FIELDS", "STEP3_FIELDS",
           "SetupStepForm", "StopForm", "StrategyStepForm", "account_label", "split_symbols"]
