"""Checks a backtest request against the registry, the instrument master and the bar store.

One function for every door (page form, API, admin re-run, sweeps): ``backtest_spec_check`` returns
a frozen :class:`Spec` or raises Django's ``ValidationError`` with one message per field
(``codes``, ``start``, ``end``, ``cash``, ``strategy_type``, ``params.<name>``, risk fields).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy

from backtests.engine import Costs, EngineConfig
from core import limits
from coupons.selectors import limit_message, plan_limits
from marketdata.models import Instrument
from marketdata.selectors import bar_store
from strategies import selectors as strategy_selectors
from strategies import signals
from strategies.models import RISK_FIELDS, SIZINGS_WITH_VALUE, Strategy
from strategies.schema import param_errors, type_label
from strategies.services import normalize_codes

CODES_REQUIRED = gettext_lazy("Pick at least one symbol.")
UNKNOWN_CODES = gettext_lazy("Unknown symbol: %(codes)s.")
TOO_MANY_CODES = gettext_lazy("Your plan allows at most %(limit)s symbols per backtest (you picked %(count)s).")
PICKED_CODES = gettext_lazy("You picked %(count)s.")
NO_DATA_IN_RANGE = gettext_lazy("No daily bars for %(codes)s between %(start)s and %(end)s.")
END_BEFORE_START = gettext_lazy("The end date is before the start date.")
RANGE_OUTSIDE_DATA = gettext_lazy("The period is outside the data: bars exist from %(first)s to %(last)s.")
CASH_TOO_SMALL = gettext_lazy(
    "The capital is too small to buy one share of %(code)s (about %(price)s KRW per position needed)."
)
CASH_TOO_SMALL_LOT = gettext_lazy(
    "The capital is too small for the smallest order of %(code)s (about %(price)s KRW per position needed)."
)
CASH_NOT_POSITIVE = gettext_lazy("Enter an amount above 0.")
UNKNOWN_TYPE = gettext_lazy("Unknown strategy type.")
BAD_RISK = gettext_lazy("%(message)s")

ENGINE_VERSION = "1.1"


@dataclass(frozen=True)
class Spec:
    """A checked backtest request, ready to freeze into a run."""

    strategy_type: str
    params: dict[str, Any]
    codes: list[str]
    markets: list[str]
    start: dt.date
    end: dt.date
    cash: int
    commission: Decimal
    sell_tax: Decimal | None
    slippage_bps: Decimal
    fill: str
    accounts: str
    options: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)

    def engine_config(self) -> EngineConfig:
        return engine_config(
            cash=self.cash, commission=self.commission, sell_tax=self.sell_tax, slippage_bps=self.slippage_bps,
            fill=self.fill, accounts=self.accounts, options=self.options,
            crypto=all(market == "CRYPTO" for market in self.markets),
        )


def engine_config(*, cash: int, commission: Decimal, sell_tax: Decimal | None, slippage_bps: Decimal, fill: str,
                  accounts: str, options: Mapping[str, Any], crypto: bool = False) -> EngineConfig:
    """The engine's settings for frozen run fields (raises ValueError naming the field)."""
    sizing = options.get("sizing") or "all_in"
    if isinstance(sizing, list):
        sizing = (sizing[0], float(sizing[1]))
    return EngineConfig(
        cash=float(cash),
        costs=Costs(
            commission=float(commission), slippage_bps=float(slippage_bps),
            sell_tax=None if sell_tax is None else float(sell_tax),
        ),
        fill=fill,
        accounts=accounts,
        sizing=sizing,
        max_positions=options.get("max_positions"),
        stop_loss=options.get("stop_loss"),
        take_profit=options.get("take_profit"),
        trailing_stop=options.get("trailing_stop"),
        max_holding_days=options.get("max_holding_days"),
        periods_per_year=365 if crypto else 252,
    )


def risk_options(**risk: Any) -> dict[str, Any]:
    """Engine options (fractions) from a strategy's risk fields (percent), checked by the same rules
    as a saved strategy; raises ``ValidationError`` keyed by those field names."""
    values = {name: risk.get(name) for name in RISK_FIELDS}
    values["sizing"] = values["sizing"] or "all_in"
    if values["sizing"] not in SIZINGS_WITH_VALUE:
        values["sizing_value"] = None
    strategy = Strategy(**values)
    strategy.full_clean(exclude=[field.name for field in Strategy._meta.fields if field.name not in RISK_FIELDS],
                        validate_unique=False, validate_constraints=False)
    options = strategy.engine_options()
    if isinstance(options["sizing"], tuple):
        options["sizing"] = list(options["sizing"])
    return options


def risk_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`risk_options`: percent fields for a form ("edit and re-run")."""
    sizing = options.get("sizing") or "all_in"
    value = None
    if isinstance(sizing, list | tuple):
        sizing, amount = sizing
        value = Decimal(str(amount * 100 if sizing == "pct_equity" else amount)).normalize()

    def percent(name: str) -> Decimal | None:
        fraction = options.get(name)
        return None if fraction is None else Decimal(str(round(fraction * 100, 4))).normalize()

    return {
        "sizing": sizing, "sizing_value": value, "max_positions": options.get("max_positions"),
        "stop_loss_pct": percent("stop_loss"), "take_profit_pct": percent("take_profit"),
        "trailing_stop_pct": percent("trailing_stop"), "max_holding_days": options.get("max_holding_days"),
    }


def listing(codes: Sequence[str], limit: int = 10) -> str:
    """``"A, B, C"``, or the first ``limit`` codes and how many more."""
    if len(codes) <= limit:
        return ", ".join(codes)
    return ", ".join(codes[:limit]) + f" (+{len(codes) - limit})"


def backtest_spec_check(
    *,
    strategy_type: str,
    params: Mapping[str, Any],
    codes: str | Sequence[str],
    start: dt.date,
    end: dt.date,
    cash: int,
    commission: Decimal = Decimal("0.00015"),
    sell_tax: Decimal | None = None,
    slippage_bps: Decimal = Decimal("0"),
    fill: str = "next_open",
    accounts: str = "shared",
    options: Mapping[str, Any] | None = None,
    max_symbols: int | None = None,
    user=None,
) -> Spec:
    """Check a request; raises ``ValidationError`` with a dict of field -> messages.

    With ``user``, the universe is bounded by that user's plan (``coupons.selectors.plan_limits``) and
    a refusal names the plan that lifts it; without, by ``max_symbols`` or ``BACKTEST_MAX_SYMBOLS``
    (internal checks of inputs already frozen).
    """
    errors: dict[str, list[str]] = {}
    options = dict(options or {})
    typed: dict[str, Any] = {}
    try:
        typed = signals.validate_params(strategy_type, params)
    except signals.UnknownStrategyType:
        errors["strategy_type"] = [str(UNKNOWN_TYPE)]
    except signals.ParamError as error:
        errors.update(param_errors(strategy_type, error))
    wanted = normalize_codes(codes)
    plan = plan_limits(user=user) if user is not None else None
    limit = (plan.max_symbols_per_backtest if plan is not None
             else max_symbols if max_symbols is not None else settings.BACKTEST_MAX_SYMBOLS)
    too_many = len(wanted) > limit  # checked before the lookup: no query with thousands of codes
    instruments = {} if too_many else {i.code: i for i in Instrument.objects.filter(code__in=wanted)}
    if not wanted:
        errors["codes"] = [str(CODES_REQUIRED)]
    elif too_many:
        errors["codes"] = [TOO_MANY_CODES % {"limit": limit, "count": len(wanted)} if plan is None else
                           f"{limit_message(limits=plan, field='max_symbols_per_backtest')} "
                           f"{PICKED_CODES % {'count': len(wanted)}}"]
    elif unknown := [code for code in wanted if code not in instruments]:
        errors["codes"] = [UNKNOWN_CODES % {"codes": listing(unknown)}]
    limits.errors_of(start, limits.validate_date, "start", errors)
    limits.errors_of(end, limits.validate_date, "end", errors)
    if end < start and "end" not in errors:
        errors["end"] = [str(END_BEFORE_START)]
    limits.errors_of(cash, limits.validate_money, "cash", errors)
    if cash < 1:
        errors.setdefault("cash", []).append(str(CASH_NOT_POSITIVE))
    config = None
    if "cash" not in errors:  # a capital beyond the cap may not even be a float
        try:
            config = engine_config(cash=cash, commission=commission, sell_tax=sell_tax, slippage_bps=slippage_bps,
                                   fill=fill, accounts=accounts, options=options)
        except ValueError as error:
            errors.setdefault(_risk_field(str(error)), []).append(str(error))
    coverage: dict[str, dict[str, Any]] = {}
    if not errors.keys() & {"codes", "start", "end"}:
        coverage = _check_data(wanted, start, end, errors)
        if config is not None and not errors.keys() & {"codes", "start", "cash"}:
            _check_cash(wanted, coverage, config, errors, instruments)
    if errors:
        raise ValidationError(errors)
    return Spec(
        strategy_type=strategy_type, params=typed, codes=wanted, markets=[instruments[c].market for c in wanted],
        start=start, end=end, cash=int(cash), commission=Decimal(commission),
        sell_tax=None if sell_tax is None else Decimal(sell_tax), slippage_bps=Decimal(slippage_bps), fill=fill,
        accounts=accounts, options=options, coverage=coverage,
    )


def _risk_field(message: str) -> str:
    name = message.split(" ", 1)[0]
    return {"cash": "cash", "fill": "fill", "accounts": "accounts", "costs": "commission"}.get(name, name)


def _check_data(codes: list[str], start: dt.date, end: dt.date, errors: dict[str, list[str]]) -> dict:
    """Coverage per code in the period (first/last bar, rows, first open); errors for empty codes."""
    bars = bar_store().read(codes)
    first_day, last_day = np.datetime64(start, "D"), np.datetime64(end, "D")
    coverage, empty = {}, []
    overall_first, overall_last = None, None
    for i, code in enumerate(bars.codes):
        lo, hi = int(bars.offsets[i]), int(bars.offsets[i + 1])
        days = bars.date[lo:hi]
        if hi > lo:
            overall_first = min(filter(None, (overall_first, days[0].item())))
            overall_last = max(filter(None, (overall_last, days[-1].item())))
        inside = np.flatnonzero((days >= first_day) & (days <= last_day))
        if inside.size == 0:
            empty.append(code)
            continue
        a, b = lo + int(inside[0]), lo + int(inside[-1])
        coverage[code] = {
            "first": str(bars.date[a]), "last": str(bars.date[b]), "rows": int(inside.size),
            "first_open": float(bars.open[a]),
        }
    if overall_first is None:
        errors["codes"] = [NO_DATA_IN_RANGE % {"codes": listing(codes), "start": start, "end": end}]
    elif not coverage:
        errors["start"] = [RANGE_OUTSIDE_DATA % {"first": overall_first, "last": overall_last}]
    elif empty:
        errors["codes"] = [NO_DATA_IN_RANGE % {"codes": listing(empty), "start": start, "end": end}]
    return coverage


def _check_cash(codes: list[str], coverage: dict, config: EngineConfig, errors: dict[str, list[str]],
                instruments: Mapping[str, Instrument]) -> None:
    """The first position of every symbol must be able to buy one lot (one share; 1e-8 BTC) at its
    first price, and at least the exchange's minimum order value (Upbit: 5,000 KRW)."""
    kind, value = config.sizing_code()
    n = len(codes)
    if config.accounts == "independent" or kind == 0:
        budget = config.cash
    elif kind == 1:
        budget = config.cash / (config.max_positions or n)
    elif kind == 2:
        budget = min(value, config.cash)
    else:
        budget = config.cash * value
    factor = (1 + config.costs.slippage) * (1 + config.costs.commission)
    for code in codes:
        price = coverage[code]["first_open"]
        instrument = instruments.get(code)
        lot = float(instrument.lot_size) if instrument is not None else 1.0
        minimum = float(instrument.min_order_value) if instrument is not None else 0.0
        needed = max(price * lot * factor, minimum * factor)
        if math.isfinite(price) and budget < needed:
            message = CASH_TOO_SMALL if lot >= 1 else CASH_TOO_SMALL_LOT
            errors["cash"] = [message % {"code": code, "price": number_format(math.ceil(needed), force_grouping=True)}]
            return


STRATEGY_NOT_YOURS = gettext_lazy("Choose one of your strategies.")
TYPE_REQUIRED = gettext_lazy("Choose a strategy or a strategy type.")


@dataclass(frozen=True)
class Request:
    """A checked request from a door: the spec, a title and the strategy it came from (if any)."""

    spec: Spec
    title: str
    strategy: Strategy | None


def backtest_request_check(*, user, fields: Mapping[str, Any]) -> Request:
    """Merge a request with its strategy and check it: the one entry point of the form and the API.

    ``fields`` holds what the user sent: ``strategy`` (id or instance, optional), ``strategy_type``
    and ``params`` (default: the strategy's), ``codes`` (default: the strategy's universe), ``start``,
    ``end``, ``cash``, costs (``commission``, ``sell_tax``, ``slippage_bps``), ``fill``, ``accounts``,
    the risk fields of :data:`RISK_FIELDS` (default: the strategy's) and ``title``. Raises
    ``ValidationError`` with every field's messages at once.
    """
    strategy = fields.get("strategy")
    if strategy is not None and not isinstance(strategy, Strategy):
        strategy = strategy_selectors.strategy_list(user=user).filter(pk=strategy).first()
        if strategy is None:
            raise ValidationError({"strategy": [str(STRATEGY_NOT_YOURS)]})
    strategy_type = fields.get("strategy_type") or (strategy.strategy_type if strategy else "")
    if not strategy_type:
        raise ValidationError({"strategy_type": [str(TYPE_REQUIRED)]})
    params = fields.get("params")
    if params is None:
        params = strategy.params if strategy and strategy.strategy_type == strategy_type else {}
    codes = fields.get("codes")
    if not codes and strategy is not None:
        codes = strategy.universe_codes()
    risk = {name: fields.get(name) for name in RISK_FIELDS}
    if strategy is not None and all(value in (None, "") for value in risk.values()):
        risk = {name: getattr(strategy, name) for name in RISK_FIELDS}
    errors: dict[str, list[str]] = {}
    options: dict[str, Any] = {}
    try:
        options = risk_options(**risk)
    except ValidationError as error:
        errors.update(error.message_dict)
    optional = {name: fields[name] for name in ("commission", "slippage_bps", "fill", "accounts")
                if fields.get(name) not in (None, "")}
    spec = None
    try:
        spec = backtest_spec_check(
            strategy_type=strategy_type, params=params, codes=codes or [], start=fields["start"], end=fields["end"],
            cash=fields["cash"], sell_tax=fields.get("sell_tax"), options=options, user=user, **optional,
        )
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            errors.setdefault(field, messages)
    if errors:
        raise ValidationError(errors)
    title = (fields.get("title") or "").strip() or (strategy.name if strategy else type_label(strategy_type))
    return Request(spec=spec, title=title, strategy=strategy)
