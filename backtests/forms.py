"""Forms of the backtest pages: they parse what the browser sends; ``backtests.validation`` and the
services hold the rules.

Field names are the keys of the validation errors (``codes``, ``start``, ``params.<name>``...), so
every message lands under its field. Costs are typed in percent (0.015 means 0.015 %) and handed to
the services as fractions.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from backtests import sweeps
from backtests.models import Accounts, BacktestRun, Fill
from backtests.validation import risk_fields
from core import limits
from core.form_fields import ReadOnceModelChoiceField
from marketdata.selectors import last_data_date
from strategies import schema, signals
from strategies import selectors as strategy_selectors
from strategies.forms import DEFAULT_TYPE, PARAM_PREFIX, StrategyForm, TypeParamFields, codes_text
from strategies.models import RISK_FIELDS, Strategy

DEFAULT_CASH = 10_000_000
DEFAULT_COMMISSION_PCT = Decimal("0.015")
DEFAULT_YEARS = 5
CODES_HELP = _("Codes separated by spaces or commas, e.g. 005930 000660. Search by code or Korean name below.")
PERCENT = Decimal(100)

# what the metric names of a sweep look like in its form
METRIC_LABELS = {
    "sharpe": _("Sharpe"), "total_return": _("Total return"), "cagr": _("CAGR"), "sortino": _("Sortino"),
    "calmar": _("Calmar"), "max_drawdown": _("Max drawdown"), "win_rate": _("Win rate"),
    "profit_factor": _("Profit factor"), "trades": _("Trades"),
}


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class BacktestForm(TypeParamFields, forms.Form):
    strategy = ReadOnceModelChoiceField(label=_("Strategy"), queryset=Strategy.objects.none(), required=False,
                                      empty_label=_("— none: choose a type below —"))
    title = forms.CharField(label=_("Title"), required=False, max_length=160,
                            help_text=_("Empty: the strategy's name or the type."))
    strategy_type = forms.ChoiceField(label=_("Strategy type"), choices=schema.type_choices)
    codes = forms.CharField(label=_("Symbols"), help_text=CODES_HELP, max_length=20_000)
    start = limits.DateField(label=_("Start"), widget=_date_input())
    end = limits.DateField(label=_("End"), widget=_date_input())
    cash = forms.IntegerField(label=_("Capital (KRW)"), min_value=1, initial=DEFAULT_CASH,
                              validators=[limits.validate_money])
    commission = forms.DecimalField(
        label=_("Commission (% per trade side)"), min_value=0, max_digits=8, decimal_places=4,
        initial=DEFAULT_COMMISSION_PCT,
        help_text=_("In percent: 0.015 means 0.015 percent of each buy and each sell."),
    )
    sell_tax = forms.DecimalField(
        label=_("Sell tax (%)"), required=False, min_value=0, max_digits=8, decimal_places=4,
        help_text=_("Empty: the statutory rate by market and settlement date (the trade date plus two "
                    "trading days). In percent, e.g. 0.2."),
    )
    slippage_bps = forms.DecimalField(label=_("Slippage (bp)"), min_value=0, max_digits=7, decimal_places=2,
                                      initial=Decimal(0), help_text=_("1 bp = 0.01 percent of the price, each side."))
    fill = forms.ChoiceField(label=_("Fill"), choices=Fill.choices, initial=Fill.NEXT_OPEN)
    accounts = forms.ChoiceField(label=_("Accounts"), choices=Accounts.choices, initial=Accounts.SHARED)
    submission_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    RISK_FIELDS = RISK_FIELDS

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["strategy"].queryset = strategy_selectors.strategy_choices(user=user)
        for name in self.RISK_FIELDS:  # the same fields, labels and help as a saved strategy's
            self.fields[name] = copy.deepcopy(StrategyForm.base_fields[name])
            self.fields[name].required = False
        self.fields["sizing"].choices = [("", _("All in (default)")), *StrategyForm.base_fields["sizing"].choices]
        self.fields["sizing"].initial = ""
        self.fields["codes"].widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
        self.fields["cash"].widget.attrs["max"] = limits.MAX_MONEY_KRW
        for name in ("commission", "sell_tax", "slippage_bps"):
            self.fields[name].widget.attrs["step"] = "any"
        if not self.is_bound and not self.initial.get("submission_key"):
            self.initial["submission_key"] = uuid.uuid4().hex
        self.add_param_fields()
        self.order_fields(["strategy", "title", "strategy_type", *self.param_names])

    # -- initial values ------------------------------------------------------------------------
    @staticmethod
    def defaults(codes: list[str] | None = None) -> dict[str, Any]:
        """A new run's inputs; it ends on the last day the store has bars for (of ``codes`` when given,
        of any code otherwise), so the last stretch is not empty; today when there are no bars at all."""
        from core.system.selectors import system_settings  # operators set the default costs

        costs = system_settings()
        today = timezone.localdate()
        end = min(last_data_date(codes=codes) or (last_data_date() if codes else None) or today, today)
        return {
            "strategy_type": DEFAULT_TYPE,
            "start": end.replace(year=end.year - DEFAULT_YEARS, day=min(end.day, 28)),
            "end": end,
            "cash": DEFAULT_CASH,
            "commission": Decimal(format(costs.backtest_commission_pct.normalize(), "f")),
            "slippage_bps": Decimal(format(costs.backtest_slippage_bps.normalize(), "f")),
            "fill": Fill.NEXT_OPEN,
            "accounts": Accounts.SHARED,
        }

    @classmethod
    def initial_for_strategy(cls, strategy: Strategy) -> dict[str, Any]:
        codes = strategy.universe_codes()
        initial = cls.defaults(codes)
        initial.update(strategy=strategy.pk, strategy_type=strategy.strategy_type, codes=codes_text(codes))
        initial.update({PARAM_PREFIX + name: value for name, value in strategy.params.items()})
        initial.update({name: getattr(strategy, name) for name in cls.RISK_FIELDS})
        return initial

    @classmethod
    def initial_for_run(cls, run: BacktestRun) -> dict[str, Any]:
        """"Edit and re-run": every frozen input of ``run``, costs back in percent."""
        initial = {
            "strategy": run.strategy_id, "title": run.title, "strategy_type": run.strategy_type,
            "codes": codes_text(run.codes), "start": run.start, "end": run.end, "cash": run.cash,
            "commission": (run.commission * PERCENT).normalize(),
            "sell_tax": None if run.sell_tax is None else (run.sell_tax * PERCENT).normalize(),
            "slippage_bps": run.slippage_bps.normalize(), "fill": run.fill, "accounts": run.accounts,
        }
        initial.update({PARAM_PREFIX + name: value for name, value in run.params.items()})
        initial.update(risk_fields(run.options))
        return initial

    @classmethod
    def initial_after_change(cls, data: Any) -> dict[str, Any]:
        """Everything posted but the old type's parameters and the submission key (a new one is made)."""
        keep = cls.initial_after_type_change(data)
        keep.pop("submission_key", None)
        return keep

    # -- parts for the template ----------------------------------------------------------------
    def risk_bound_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.RISK_FIELDS]

    def cost_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("cash", "commission", "sell_tax", "slippage_bps", "fill", "accounts")]

    # -- to the services -----------------------------------------------------------------------
    def request_fields(self) -> dict[str, Any]:
        """The ``fields`` of ``validation.backtest_request_check`` (costs as fractions)."""
        data = self.cleaned_data
        strategy = data.get("strategy")
        fields: dict[str, Any] = {
            "strategy": strategy, "title": data.get("title") or "", "strategy_type": data["strategy_type"],
            "params": self.params(),
            "codes": data["codes"], "start": data["start"], "end": data["end"], "cash": data["cash"],
            "commission": data["commission"] / PERCENT,
            "sell_tax": None if data.get("sell_tax") is None else data["sell_tax"] / PERCENT,
            "slippage_bps": data.get("slippage_bps") or Decimal(0), "fill": data["fill"],
            "accounts": data["accounts"],
        }
        risk = {name: data.get(name) for name in self.RISK_FIELDS}
        risk["sizing"] = risk["sizing"] or ("all_in" if strategy is None else None)
        fields.update(risk)
        return fields

    def add_service_errors(self, error: ValidationError) -> None:
        """Each message under its field; keys the form does not have go to the top."""
        for field, messages in error.message_dict.items():
            target = field if field in self.fields and field != NON_FIELD_ERRORS else None
            if target and target in self.errors:
                continue  # the form already said something about it
            self.add_error(target, messages)


class SweepForm(BacktestForm):
    x_param = forms.ChoiceField(label=_("First parameter (columns)"))
    x_values = forms.CharField(label=_("Its values"), max_length=2000,
                               help_text=_("Numbers separated by commas, or a range like 5:50:5 (start:stop:step)."))
    y_param = forms.ChoiceField(label=_("Second parameter (rows, optional)"), required=False)
    y_values = forms.CharField(label=_("Its values"), required=False, max_length=2000)
    metric = forms.ChoiceField(label=_("Metric of the heatmap"), choices=[(k, v) for k, v in METRIC_LABELS.items()
                                                                          if k in sweeps.METRICS], initial="sharpe")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        numeric = []
        if self.chosen_type:
            numeric = [(p.name, schema.param_label(self.chosen_type, p.name))
                       for p in signals.get(self.chosen_type).PARAMS if p.type in (int, float)]
        self.fields["x_param"].choices = numeric
        self.fields["y_param"].choices = [("", _("— none —")), *numeric]

    def grid_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("x_param", "x_values", "y_param", "y_values", "metric")]

    def sweep_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {name: data.get(name) or "" for name in ("x_param", "x_values", "y_param", "y_values")} | {
            "metric": data["metric"]}


def default_dates() -> tuple[dt.date, dt.date]:
    defaults = BacktestForm.defaults()
    return defaults["start"], defaults["end"]
