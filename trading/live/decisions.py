"""What one deployment decides at one slot, and when: pure over what the runner read (no clock).

- ``Slot`` / ``slot_at``: a timing's decision time on a trading day (the pre-open auction, the closing
  auction, every N minutes), from the market's calendar;
- ``Bars`` / ``load_bars``: the bars of many symbols read once for a slot, with today's quote as a
  provisional last bar for intraday decisions; ``compute_signals``: ``strategies.signals.compute``
  once per (strategy type, parameters) over the symbols that use it;
- ``Intent`` / ``deployment_intents``: sells (signal exits, the risk rules), then entries sized like
  the engine's shared account from the deployment's bucket.

``trading.live.runner`` (its docstring says the whole flow) reads the database and calls these.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from marketdata.calendars import SEOUL
from trading.live import sizing
from trading.live.buckets import Bucket
from trading.live.exits import Held, risk_exit
from trading.live.models import DeploymentState, DeploymentTiming, SignalReason, Verdict

logger = logging.getLogger("trading.live")

OPEN_LEAD = dt.timedelta(minutes=30)  # the pre-open auction starts 30 minutes before the open
CLOSE_LEAD = dt.timedelta(minutes=10)  # the closing auction: the last 10 minutes
CRYPTO_OPEN_WINDOW = dt.timedelta(hours=1)
LOOKBACK_DAYS = 800  # calendar days of bars a decision reads (long indicators need a warm-up)
SELL_TAX_GUESS = 0.002  # what a sell's proceeds are counted without when sizing waiting buys


# --- when -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Slot:
    """One decision time: ``at`` (the signals' ``decided_at``), ``until`` (past it the slot is
    missed), the trading ``day``, the last bar date it reads (``bar_end``) and whether today's price
    is its provisional last bar."""

    at: dt.datetime
    until: dt.datetime
    day: dt.date
    bar_end: dt.date
    provisional: bool
    market: str = "KRX"


def slot_at(*, timing: str, interval_minutes: int | None, now: dt.datetime, calendar: Any) -> Slot | None:
    """The slot of a deployment with ``timing`` open at ``now`` (at <= now < until), else None
    (closed day, outside the windows)."""
    day = now.astimezone(SEOUL).date()
    if not calendar.is_trading_day(day):
        return None
    session = calendar.session(day)
    crypto = calendar.market != "KRX"
    previous = calendar.previous_trading_day(day)
    market = "CRYPTO" if crypto else "KRX"
    if timing == DeploymentTiming.OPEN:
        at = session.open if crypto else session.open - OPEN_LEAD
        until = session.open + CRYPTO_OPEN_WINDOW if crypto else session.open
        slot = Slot(at, until, day, previous, False, market)
    elif timing == DeploymentTiming.CLOSE:
        slot = Slot(session.close - CLOSE_LEAD, session.close, day, day, True, market)
    else:
        step = dt.timedelta(minutes=max(int(interval_minutes or 0), 1))
        end = session.close - CLOSE_LEAD
        if not session.open <= now < end:
            return None
        at = session.open + step * ((now - session.open) // step)
        slot = Slot(at, min(at + step, end), day, day, True, market)
    return slot if slot.at <= now < slot.until else None


# --- bars and signals ---------------------------------------------------------------------------

@dataclass
class Bars:
    """The bars one slot reads: symbols × dates arrays, each symbol's row, its last bar's date."""

    symbols: list[str]
    dates: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    row: dict[str, int]
    last_date: dict[str, dt.date | None]

    def last_close(self, symbol: str) -> float | None:
        i = self.row.get(symbol)
        if i is None:
            return None
        column = self.close[i]
        valid = np.flatnonzero(~np.isnan(column))
        return float(column[valid[-1]]) if valid.size else None

    def highs_after(self, symbol: str, day: dt.date, *, including: bool = False) -> float:
        """The highest high of ``symbol``'s bars after ``day`` (and of ``day``'s own bar when
        ``including``); -inf when none."""
        i = self.row.get(symbol)
        if i is None:
            return -math.inf
        after = self.dates >= np.datetime64(day, "D") if including else self.dates > np.datetime64(day, "D")
        values = self.high[i][after]
        values = values[~np.isnan(values)]
        return float(values.max()) if values.size else -math.inf

    def bars_after(self, symbol: str, day: dt.date) -> int:
        i = self.row.get(symbol)
        if i is None:
            return 0
        after = self.dates > np.datetime64(day, "D")
        return int(np.count_nonzero(~np.isnan(self.close[i][after])))


def load_bars(symbols: list[str], slot: Slot, *, lookback_days: int = LOOKBACK_DAYS) -> Bars:
    """The bars of ``symbols`` up to ``slot.bar_end`` (from ``lookback_days`` before it), read once;
    for a provisional slot a symbol without a bar of today gets today's quote as its last bar."""
    from marketdata.selectors import bar_store

    store = bar_store()
    start = slot.bar_end - dt.timedelta(days=lookback_days)
    barset = store.read(symbols, start, slot.bar_end)
    day64 = np.datetime64(slot.bar_end, "D")
    dates = np.unique(barset.date.astype("datetime64[D]")) if len(barset.date) else np.array([], "datetime64[D]")
    quotes: dict[str, float] = {}
    if slot.provisional:
        quotes = _today_quotes(barset, symbols, slot)
        if quotes and (dates.size == 0 or dates[-1] != day64):
            dates = np.append(dates, day64)
    shape = (len(symbols), dates.size)
    arrays = {name: np.full(shape, np.nan) for name in ("open", "high", "low", "close")}
    row = {symbol: i for i, symbol in enumerate(symbols)}
    last_date: dict[str, dt.date | None] = {}
    offsets = barset.offsets
    for i, code in enumerate(barset.codes):
        a, b = int(offsets[i]), int(offsets[i + 1])
        r = row[code]
        last_date[code] = None
        if b > a:
            index = np.searchsorted(dates, barset.date[a:b].astype("datetime64[D]"))
            for name in arrays:
                arrays[name][r, index] = getattr(barset, name)[a:b]
            last_date[code] = barset.date[b - 1].astype("datetime64[D]").astype(dt.date)
        if code in quotes:
            for name in arrays:
                arrays[name][r, -1] = quotes[code]
            last_date[code] = slot.bar_end
    return Bars(symbols, dates, arrays["open"], arrays["high"], arrays["low"], arrays["close"], row, last_date)


def _today_quotes(barset: Any, symbols: list[str], slot: Slot) -> dict[str, float]:
    """Today's price of each symbol without a bar of today, when a quote source is plugged in."""
    from trading.paper.prices import latest_price, quote_source

    if quote_source() is None:
        return {}
    have_today = set()
    for i, code in enumerate(barset.codes):
        b = int(barset.offsets[i + 1])
        if b > int(barset.offsets[i]) and barset.date[b - 1].astype("datetime64[D]") == np.datetime64(slot.day, "D"):
            have_today.add(code)
    quotes = {}
    for symbol in symbols:
        if symbol in have_today:
            continue
        point = latest_price(symbol, now=slot.at)
        if point is not None and point.source == "quote":
            quotes[symbol] = float(point.price)
    return quotes


def params_key(deployment: Any) -> tuple[str, str]:
    return deployment.strategy_type, json.dumps(deployment.params, sort_keys=True, default=str)


def compute_signals(bars: Bars, deployments: list[Any], fresh: set[str]) -> tuple[dict, dict]:
    """``({(type, params): {symbol: (entry, exit)}}, {(type, params): error message})``: one
    ``strategies.signals.compute`` per (strategy type, parameters) over the fresh symbols it uses."""
    from strategies import signals

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    params: dict[tuple[str, str], dict] = {}
    for deployment in deployments:
        key = params_key(deployment)
        params[key] = deployment.params
        groups[key].extend(s for s in deployment.symbols if s in fresh)
    found: dict[tuple[str, str], dict[str, tuple[bool, bool]]] = {}
    errors: dict[tuple[str, str], str] = {}
    for key, codes in groups.items():
        codes = list(dict.fromkeys(codes))
        if not codes:
            found[key] = {}
            continue
        rows = [bars.row[code] for code in codes]
        try:
            result = signals.compute(key[0], open=bars.open[rows], high=bars.high[rows], low=bars.low[rows],
                                     close=bars.close[rows], params=params[key])
        except Exception as exc:  # noqa: BLE001 - one strategy's bad parameters must not stop the others
            logger.warning("signals of %s failed: %s", key[0], exc)
            errors[key] = str(exc)[:200]
            continue
        entries, exits = np.asarray(result.entries), np.asarray(result.exits)
        found[key] = {code: (bool(entries[j, -1]), bool(exits[j, -1])) for j, code in enumerate(codes)}
    return found, errors


# --- intents ------------------------------------------------------------------------------------

@dataclass
class Intent:
    """What one deployment wants at one slot for one symbol and side, and the guard's verdict."""

    deployment_id: int
    owner_id: int
    account_id: int
    symbol: str
    side: str
    reason: str
    price: float
    quantity: float
    bar_date: dt.date | None = None
    waiting: bool = False
    verdict: str = Verdict.PASSED
    guard_code: str = ""
    guard_message: str = ""
    final_quantity: float | None = None
    outcome_message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float:
        return self.price * (self.quantity if self.final_quantity is None else self.final_quantity)


@dataclass(frozen=True)
class Context:
    """What ``deployment_intents`` reads besides the deployment and its bucket."""

    slot: Slot
    bars: Bars
    signals: dict[str, tuple[bool, bool]]
    prices: dict[str, float]
    lots: dict[str, tuple[float, float]]
    commission: float
    stale: frozenset[str]


def deployment_intents(deployment: Any, bucket: Bucket, context: Context) -> list[Intent]:
    """The intents of one deployment at one slot (pure over its inputs): sells, then buys."""
    prices = context.prices

    def intent(symbol: str, side: str, reason: str, quantity: float) -> Intent:
        return Intent(deployment.pk, deployment.owner_id, deployment.account_id, symbol, side, reason,
                      prices.get(symbol, 0.0), quantity, context.bars.last_date.get(symbol))

    held = bucket.held()
    order = list(deployment.symbols) + sorted(s for s in held if s not in deployment.symbols)
    sells: list[Intent] = []
    closing = deployment.state == DeploymentState.STOPPED
    for symbol in order:
        position = held.get(symbol)
        if position is None or symbol in bucket.open_sells or symbol in context.stale or symbol not in prices:
            continue
        reason = SignalReason.CLOSE_ALL if closing else None
        entry, exit_ = context.signals.get(symbol, (False, False))
        if reason is None and exit_ and not entry:
            reason = SignalReason.EXIT
        if reason is None and position.opened is not None:
            # bought at the open, the entry day's high came after the entry (the engine's peak takes it);
            # bought at the close or during the day, only the following bars count
            peak = max(context.bars.highs_after(symbol, position.opened, including=not context.slot.provisional),
                       position.entry_price)
            reason = risk_exit(Held(symbol, position.quantity, position.entry_price, peak,
                                    context.bars.bars_after(symbol, position.opened)),
                               prices[symbol], deployment.risk or {})
        if reason is not None:
            sells.append(intent(symbol, "sell", str(reason), position.quantity))
    if closing:
        return sells
    sold = {i.symbol for i in sells}
    proceeds = sum(i.price * i.quantity * (1.0 - context.commission - SELL_TAX_GUESS) for i in sells)
    cash_now = bucket.available
    cash = cash_now + proceeds
    marks = {s: context.bars.last_close(s) or p.entry_price for s, p in held.items()}
    equity = bucket.cash + sum(p.quantity * marks[s] for s, p in held.items())
    n_open = len([s for s in held if s not in sold]) + len(bucket.open_buys)
    risk = deployment.risk or {}
    max_positions = risk.get("max_positions")
    buys: list[Intent] = []
    for symbol in deployment.symbols:
        entry, exit_ = context.signals.get(symbol, (False, False))
        if not entry or exit_ or symbol in held or symbol in bucket.open_buys or symbol in context.stale:
            continue
        if max_positions and n_open >= max_positions:
            continue
        price = prices.get(symbol, 0.0)
        lot, minimum = context.lots.get(symbol, (1.0, 0.0))
        quantity = sizing.buy_quantity(cash=cash, equity=equity, price=price, sizing=risk.get("sizing", "all_in"),
                                       max_positions=max_positions, n_symbols=len(deployment.symbols), lot=lot,
                                       min_value=minimum, commission=context.commission)
        if quantity <= 0:
            continue
        cost = sizing.buy_cost(quantity, price, context.commission)
        cash -= cost
        n_open += 1
        buy = intent(symbol, "buy", SignalReason.ENTRY, quantity)
        if cost > cash_now + 1e-6:
            buy.waiting = True
        else:
            cash_now -= cost
        buys.append(buy)
    return sells + buys


def decimal_quantity(quantity: float) -> Decimal:
    return Decimal(repr(round(quantity, 8))).normalize()


def commission_rate() -> float:
    from trading.paper.matching import paper_costs

    return float(paper_costs().commission)


def expected_prices(bars: Bars, symbols: set[str], slot: Slot) -> dict[str, float]:
    """The expected fill price of each symbol: the latest price when a quote source is plugged in,
    else the last close the decision read."""
    from trading.paper.prices import latest_price, quote_source

    prices = {s: close for s in symbols if (close := bars.last_close(s)) is not None}
    if quote_source() is not None:
        for symbol in symbols:
            point = latest_price(symbol, now=slot.at)
            if point is not None and point.source == "quote":
                prices[symbol] = float(point.price)
    return prices


__all__ = [
    "Bars", "Context", "Intent", "LOOKBACK_DAYS", "Slot", "commission_rate", "compute_signals", "decimal_quantity",
    "deployment_intents", "expected_prices", "load_bars", "params_key", "slot_at",
]
