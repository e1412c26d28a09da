"""Forms of the strategy pages: they parse what the browser sends; the services hold the rules.

The parameter fields of ``StrategyForm`` come from the chosen type's schema in the registry and are
named ``params.<name>``, the keys the services use for their errors, so every error lands under
its field. Parameter values reach the registry as typed, so its messages (translated) are the ones
users see, in the form and in the API alike.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import User
from core import limits
from core.form_fields import ReadOnceModelChoiceField
from strategies import schema, selectors, services, signals
from strategies.models import RISK_FIELDS, Sizing, Strategy, Watchlist

DEFAULT_TYPE = "sma_cross"
PARAM_PREFIX = "params."
WATCHLIST_REQUIRED = _("Choose a watchlist.")
NAME_LABEL = pgettext_lazy("name of a strategy or a watchlist", "Name")
CODES_HELP = _("Codes separated by spaces or commas, e.g. 005930 000660. Search below to add more.")


class UniverseSource:
    INSTRUMENTS = "instruments"
    WATCHLIST = "watchlist"
    CHOICES = [(INSTRUMENTS, _("Instruments")), (WATCHLIST, _("A watchlist"))]


class _RawValue:
    """A parameter field hands the registry what was typed; the registry checks it."""

    def clean(self, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class ParamIntegerField(_RawValue, forms.IntegerField):
    pass


class ParamFloatField(_RawValue, forms.FloatField):
    pass


def param_field(strategy_type: str, param: signals.Param) -> forms.Field:
    """The form field of one parameter: widget bounds and step from the schema, label and help text
    in the active language."""
    options = {"label": schema.param_label(strategy_type, param.name), "help_text": schema.param_help(param),
               "initial": param.default}  # fmt: skip
    if param.type is bool:
        return forms.BooleanField(required=False, **options)
    field_class = ParamIntegerField if param.type is int else ParamFloatField
    field = field_class(**options)
    attrs = {"min": param.min, "max": param.max, "step": param.step if param.step is not None else "any"}
    field.widget.attrs.update({key: value for key, value in attrs.items() if value is not None})
    return field


class TypeParamFields:
    """For a form with a ``strategy_type`` field: adds the chosen type's parameter fields
    (``params.<name>``), remembered as ``chosen_type`` and ``param_names``."""

    def add_param_fields(self) -> None:
        chosen = self.data.get("strategy_type") if self.is_bound else self.initial.get("strategy_type")
        self.chosen_type = chosen if chosen in signals.REGISTRY else None
        self.param_names: list[str] = []
        if self.chosen_type:
            for param in signals.get(self.chosen_type).PARAMS:
                self.fields[PARAM_PREFIX + param.name] = param_field(self.chosen_type, param)
                self.param_names.append(PARAM_PREFIX + param.name)

    @classmethod
    def initial_after_type_change(cls, data: Any) -> dict[str, Any]:
        """Everything posted but the old type's parameters: the new type's fields start at its defaults."""
        return {key: data.get(key) for key in data if not key.startswith(PARAM_PREFIX) and key != "csrfmiddlewaretoken"}

    def param_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.param_names]

    def params(self) -> dict[str, Any]:
        """The typed-in parameter values by name, for the registry to check."""
        return {name.removeprefix(PARAM_PREFIX): self.cleaned_data.get(name) for name in self.param_names}


def codes_text(codes: list[str]) -> str:
    return " ".join(codes)


class UniverseFields(forms.Form):
    """The universe part: a code list or one of the user's watchlists, chosen by a radio."""

    universe_source = forms.ChoiceField(
        label=_("Universe"), choices=UniverseSource.CHOICES, widget=forms.RadioSelect,
        initial=UniverseSource.INSTRUMENTS,
    )
    instruments = forms.CharField(label=_("Instruments"), required=False, help_text=CODES_HELP, max_length=20_000)
    watchlist = ReadOnceModelChoiceField(
        label=_("Watchlist"), queryset=Watchlist.objects.none(), required=False, empty_label=_("— choose —")
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["watchlist"].queryset = selectors.watchlist_list(user=user)
        self.fields["instruments"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("universe_source") == UniverseSource.WATCHLIST and not data.get("watchlist"):
            self.add_error("watchlist", WATCHLIST_REQUIRED)
        return data

    def universe_kwargs(self) -> dict[str, Any]:
        """``instruments`` and ``watchlist`` for the services: only the chosen one counts."""
        data = self.cleaned_data
        if data["universe_source"] == UniverseSource.WATCHLIST:
            return {"instruments": [], "watchlist": data["watchlist"]}
        return {"instruments": services.normalize_codes(data.get("instruments") or ""), "watchlist": None}

    def add_service_errors(self, error: ValidationError) -> None:
        """Put each of a service's errors under its field (or at the top of the form)."""
        for field, messages in error.message_dict.items():
            target = field if field in self.fields and field != NON_FIELD_ERRORS else None
            if field == "instruments" and self.data.get("universe_source") == UniverseSource.WATCHLIST:
                target = "watchlist"
            self.add_error(target, messages)


class StrategyForm(TypeParamFields, UniverseFields):
    name = forms.CharField(label=NAME_LABEL, max_length=100)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    strategy_type = forms.ChoiceField(label=_("Strategy type"), choices=schema.type_choices)
    sizing = forms.ChoiceField(label=_("Position sizing"), choices=Sizing.choices, initial=Sizing.EQUAL_WEIGHT)
    sizing_value = forms.DecimalField(
        label=_("Sizing amount"), required=False, max_digits=15, decimal_places=2, validators=[limits.validate_money],
        help_text=_("KRW per position for a fixed amount; percent of equity for a percentage."),
    )
    max_positions = forms.IntegerField(label=_("Max open positions"), required=False, help_text=_("Empty: no limit."),
                                       validators=[limits.validate_positions])
    stop_loss_pct = forms.DecimalField(label=_("Stop loss (%)"), required=False, max_digits=5, decimal_places=2,
                                       help_text=_("Sell when a position has lost this much. Empty: off."))
    take_profit_pct = forms.DecimalField(label=_("Take profit (%)"), required=False, max_digits=7, decimal_places=2,
                                         help_text=_("Sell when a position has gained this much. Empty: off."))
    trailing_stop_pct = forms.DecimalField(
        label=_("Trailing stop (%)"), required=False, max_digits=5, decimal_places=2,
        help_text=_("Sell when the price falls this far below its highest close since the entry. Empty: off."),
    )
    max_holding_days = forms.IntegerField(label=_("Max holding days"), required=False,
                                          help_text=_("Sell after this many trading days. Empty: no limit."),
                                          validators=[limits.validate_holding_days])

    RISK_FIELDS = RISK_FIELDS

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        for name, limit in (("max_positions", limits.MAX_POSITIONS), ("max_holding_days", limits.MAX_HOLDING_DAYS)):
            self.fields[name].widget.attrs.update({"min": 1, "max": limit})
        for name in ("stop_loss_pct", "trailing_stop_pct", "take_profit_pct", "sizing_value"):
            self.fields[name].widget.attrs.update({"min": 0, "step": "any"})
        self.add_param_fields()
        self.order_fields(["name", "description", "strategy_type", *self.param_names])

    @classmethod
    def initial_for(cls, strategy: Strategy) -> dict[str, Any]:
        """What the edit page shows for a saved strategy."""
        initial = {name: getattr(strategy, name) for name in ("name", "description", "strategy_type", *cls.RISK_FIELDS)}
        initial.update({PARAM_PREFIX + name: value for name, value in strategy.params.items()})
        if strategy.watchlist_id:
            initial.update(universe_source=UniverseSource.WATCHLIST, watchlist=strategy.watchlist_id)
        else:
            codes = codes_text(strategy.universe_codes())
            initial.update(universe_source=UniverseSource.INSTRUMENTS, instruments=codes)
        return initial

    def risk_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.RISK_FIELDS]

    def service_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``strategy_create`` / ``strategy_update``."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data.get("description") or "",
            "strategy_type": data["strategy_type"],
            "params": self.params(),
            **self.universe_kwargs(),
            **{name: data.get(name) for name in self.RISK_FIELDS},
        }


class PresetCloneForm(UniverseFields):
    name = forms.CharField(label=NAME_LABEL, max_length=100)

    def service_kwargs(self) -> dict[str, Any]:
        return {"name": self.cleaned_data["name"], **self.universe_kwargs()}


class WatchlistForm(forms.Form):
    name = forms.CharField(label=NAME_LABEL, max_length=100)
    instruments = forms.CharField(label=_("Instruments"), help_text=CODES_HELP, max_length=20_000, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instruments"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})

    def service_kwargs(self) -> dict[str, Any]:
        return {"name": self.cleaned_data["name"],
                "instruments": services.normalize_codes(self.cleaned_data.get("instruments") or "")}  # fmt: skip

    def add_service_errors(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)
