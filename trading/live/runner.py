"""The runner: running deployments decide at their slots and send order intents through the one door.

Public entry points (every one takes ``now``, the trading time, and passes it down; none reads the
clock itself except through its default ``now=None`` → ``core.clock.now()``)::

    run_due(*, now=None, lookback_days=LOOKBACK_DAYS) -> RunReport     # the beat: decide + guard + send
    due_deployments(*, now=None) -> dict[Slot, list[Deployment]]      # who decides now, by slot
    decide(*, deployment_ids, now=None, lookback_days=...) -> RunReport # phase 1: intents persisted (pending)
    guard_and_send(*, now=None) -> RunReport                          # phase 2: guard all pending, then send
    place_waiting(*, now=None) -> RunReport                           # buys waiting for their sells' cash
    daily_loss_pause(*, now=None) -> list[int]                        # users paused by their daily loss limit
    trading.live.summary.day_summaries(*, day=None, now=None) -> int  # DeploymentDay rows after the close
    slot_at(*, timing, interval_minutes, now, calendar) -> Slot | None
    guard_slot(*, decided_at, now) -> int                             # the guard over one decision time
    guard_intents(intents, *, now) -> list[Intent]                    # the conflict guard's rules

When a deployment decides (``slot_at``, only on trading days of its calendar: KRX for stocks, every
day for a crypto-only deployment):

- ``open``: in the pre-open auction, 30 minutes before the session opens (08:30 on a normal day;
  09:30 on the first trading day of a year or the exam day), on the previous trading day's bar;
  market orders rest in the auction and fill at the open (the backtest's next-open rule). The
  slot lasts until the open.
- ``close``: 10 minutes before the close (15:20), on the previous bars plus today's (the store's
  bar of today when it has one, else today's quote as a provisional bar); market orders fill in the
  closing auction. The slot lasts until the close.
- ``interval``: every N minutes from the open until 10 minutes before the close, like ``close``.

A decision (``decide``), for every due deployment at once:

1. bars are read ONCE for the union of the deployments' symbols (``lookback_days`` calendar days up
   to the last completed bar), and the signals are computed ONCE per (strategy type, parameters)
   over the symbols of that group: ``strategies.signals.compute``, the backtests' own code (every
   strategy type computes each symbol on its own bars, so one call serves every deployment);
2. a symbol whose last bar is older than the decision needs (the previous trading day) is stale:
   it is not traded and ``Deployment.data_note`` says so; a deployment with only stale symbols does
   not decide at all (its slot stays due: once the ingest lands, the next beat acts);
3. per deployment (``deployment_intents``): sells first (the signal's exits, then the strategy's
   stop loss, take profit, trailing stop and max holding days on its held positions at the latest
   price), then entries in symbol order sized from its capital bucket like the engine's shared
   account (``trading.live.sizing``), with ``max_positions``; a buy that needs the cash of this
   decision's sells is ``waiting``;
4. every intent is written as a ``DeploymentSignal`` (bulk, ignoring rows that exist: the unique
   (deployment, decided_at, symbol, side) key makes a rerun, a duplicate beat or a restart
   mid-session find the first decision and never order twice).

``guard_and_send`` then takes each decision time whose deciding is over (no Celery batch of it
still running: ``slot_busy_key``) and runs the guard over ALL its signals at once (``guard_slot`` →
``guard_intents``: one owner per account and symbol, then the conflict guard's rules of
``trading.risk``: capital buckets, the user's spread, the platform's cap per symbol shared pro
rata), writes each verdict (passed, trimmed, blocked with its code and message), and sends every
pending signal to ``order_place`` (market orders,
``intent_id`` = the signal's, ``source=strategy``, ``actor=Actor.strategy("deployment <pk>")``); the
order checks' refusal (a kill switch, buying power...) is recorded on the signal. ``place_waiting``
sends the waiting buys of a decision whose sells have all filled, trimmed to the bucket's cash.

Prices: the expected fill price is the latest price (``trading.paper.prices.latest_price``) when a
quote source is plugged in, else the last bar's close the decision read (never a bar of the future).
A market buy is held by the order checks at the upper price limit (+30 %), so an all-in bucket as
large as the account's cash is refused by the buying-power check: leave the account some room.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from marketdata.calendars import SEOUL, calendar_for
from trading.live import sizing
from trading.live.buckets import Bucket, buckets_of
from trading.live.exits import Held, risk_exit
from trading.live.models import (
    Deployment,
    DeploymentSignal,
    DeploymentState,
    DeploymentTiming,
    SignalOutcome,
    SignalReason,
    Verdict,
    signal_intent_id,
)

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


def _calendar_of(markets: Iterable[str]) -> Any:
    found = set(markets)
    return calendar_for("CRYPTO") if found and found <= {"CRYPTO"} else calendar_for("KRX")


@dataclass
class DueDeployment:
    """What a decision reads of a deployment: a light row (thousands are read at the open; a
    ``Deployment`` instance serves as well)."""

    pk: int
    owner_id: int
    account_id: int
    name: str
    capital: Decimal
    symbols: list[str]
    timing: str
    interval_minutes: int | None
    strategy_type: str
    params: dict
    risk: dict
    state: str
    state_code: str
    last_decision_at: dt.datetime | None
    data_note: str


DUE_FIELDS = ("id", "owner_id", "account_id", "name", "capital", "symbols", "timing", "interval_minutes",
              "strategy_type", "params", "risk", "state", "state_code", "last_decision_at", "data_note")


def due_deployments(*, now: dt.datetime | None = None,
                    ids: Iterable[int] | None = None) -> dict[Slot, list[DueDeployment]]:
    """Running deployments (and stopped ones still closing their positions) whose slot is open at
    ``now`` and not yet decided (``last_decision_at`` before the slot), grouped by slot; only those
    of ``ids`` when given. Replays are not due: the replay drives them (``decide_slot``)."""
    from marketdata.models import Instrument

    now = now or clock.now()
    running = Deployment.objects.filter(state=DeploymentState.RUNNING, replay=False)
    closing = Deployment.objects.filter(state=DeploymentState.STOPPED, state_code="close_positions",
                                        claims__isnull=False, replay=False).distinct()
    if ids is not None:
        running, closing = running.filter(pk__in=list(ids)), closing.filter(pk__in=list(ids))
    rows = [DueDeployment(*values) for query in (running, closing) for values in query.values_list(*DUE_FIELDS)]
    codes = {code for deployment in rows for code in deployment.symbols}
    markets = dict(Instrument.objects.filter(code__in=codes).values_list("code", "market")) if codes else {}
    slots: dict[tuple, Slot | None] = {}
    due: dict[Slot, list[DueDeployment]] = defaultdict(list)
    for deployment in rows:
        kinds = tuple(sorted({"CRYPTO" if markets.get(c) == "CRYPTO" else "KRX" for c in deployment.symbols}))
        key = (kinds, deployment.timing, deployment.interval_minutes)
        if key not in slots:
            slots[key] = slot_at(timing=deployment.timing, interval_minutes=deployment.interval_minutes, now=now,
                                 calendar=_calendar_of(kinds))
        slot = slots[key]
        if slot is None or (deployment.last_decision_at is not None and deployment.last_decision_at >= slot.at):
            continue
        due[slot].append(deployment)
    return dict(due)


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

    def highs_after(self, symbol: str, day: dt.date) -> float:
        """The highest high of ``symbol``'s bars after ``day`` (-inf when none)."""
        i = self.row.get(symbol)
        if i is None:
            return -math.inf
        after = self.dates > np.datetime64(day, "D")
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


def _params_key(deployment: Deployment) -> tuple[str, str]:
    return deployment.strategy_type, json.dumps(deployment.params, sort_keys=True, default=str)


def compute_signals(bars: Bars, deployments: list[Deployment], fresh: set[str]) -> tuple[dict, dict]:
    """``({(type, params): {symbol: (entry, exit)}}, {(type, params): error message})``: one
    ``strategies.signals.compute`` per (strategy type, parameters) over the fresh symbols it uses."""
    from strategies import signals

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    params: dict[tuple[str, str], dict] = {}
    for deployment in deployments:
        key = _params_key(deployment)
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


def deployment_intents(deployment: Deployment, bucket: Bucket, context: Context) -> list[Intent]:
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
            peak = max(context.bars.highs_after(symbol, position.opened), position.entry_price)
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


# --- the guard ------------------------------------------------------------------------------------

def guard_intents(intents: list[Intent], *, now: dt.datetime) -> list[Intent]:
    """Every intent of one decision time, judged together before any is sent by the conflict guard
    (``trading.risk.guard_intents``: one owner per account and symbol, capital buckets, the user's
    spread and daily loss, the platform's cap per symbol shared pro rata), its context read by
    ``trading.live.guarding``. Sets ``verdict``, ``guard_code``, ``guard_message`` and
    ``final_quantity`` on each; returns the list."""
    from trading.live.guarding import judge

    return judge(intents, now=now)


# --- writing and sending ----------------------------------------------------------------------------

@dataclass
class RunReport:
    """What one call did: deployments decided, intents written, orders sent, refused, waiting..."""

    slots: int = 0
    deployments: int = 0
    stale: int = 0
    intents: int = 0
    ordered: int = 0
    refused: int = 0
    blocked: int = 0
    waiting: int = 0
    notes: dict[int, str] = field(default_factory=dict)

    def add(self, other: RunReport) -> RunReport:
        for name in ("slots", "deployments", "stale", "intents", "ordered", "refused", "blocked", "waiting"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes.update(other.notes)
        return self


def _decimal_quantity(quantity: float) -> Decimal:
    return Decimal(repr(round(quantity, 8))).normalize()


def _signal_row(item: Intent, slot: Slot) -> DeploymentSignal:
    final = item.quantity if item.final_quantity is None else item.final_quantity
    if item.verdict == Verdict.BLOCKED:
        outcome = SignalOutcome.BLOCKED
    elif item.waiting:
        outcome = SignalOutcome.WAITING
    else:
        outcome = SignalOutcome.PENDING
    return DeploymentSignal(
        deployment_id=item.deployment_id, decided_at=slot.at, bar_date=item.bar_date, symbol=item.symbol,
        side=item.side, reason=item.reason, price=Decimal(repr(round(item.price, 4))),
        quantity_wanted=_decimal_quantity(item.quantity), quantity=_decimal_quantity(final), verdict=item.verdict,
        guard_code=item.guard_code, guard_message=item.guard_message[:300], outcome=outcome,
        outcome_message=item.outcome_message[:300],
        intent_id=signal_intent_id(item.deployment_id, slot.at, item.symbol, item.side))


def _commission() -> float:
    from trading.paper.matching import paper_costs

    return float(paper_costs().commission)


def _stale_note(symbols: list[str], slot: Slot) -> str:
    return _("No fresh bars for {symbols}: the last completed bar ({day}) is missing, so the runner did not "
             "trade them.").format(symbols=", ".join(symbols[:10]) + ("…" if len(symbols) > 10 else ""),
                                   day=slot.bar_end.isoformat())


def _prices(bars: Bars, symbols: set[str], slot: Slot) -> dict[str, float]:
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


def decide_slot(slot: Slot, deployments: list[Deployment], *, lookback_days: int = LOOKBACK_DAYS) -> RunReport:
    """Phase 1 for one slot: bars once, signals once per strategy group, intents per deployment,
    the guard over all of them, then the signal rows (bulk, first decision wins) and each
    deployment's ``last_decision_at`` / ``data_note``."""
    from marketdata.selectors import instrument_lots

    report = RunReport(slots=1)
    symbols = sorted({code for d in deployments for code in d.symbols})
    bars = load_bars(symbols, slot, lookback_days=lookback_days)
    fresh = {s for s in symbols if bars.last_date.get(s) is not None and bars.last_date[s] >= slot.bar_end}
    signals, errors = compute_signals(bars, deployments, fresh)
    prices = _prices(bars, fresh, slot)
    lots = instrument_lots(codes=symbols)
    commission = _commission()
    buckets = buckets_of({d.pk: d.capital for d in deployments}, commission=commission)
    intents: list[Intent] = []
    decided: list[Deployment] = []
    for deployment in deployments:
        key = _params_key(deployment)
        stale = sorted(s for s in deployment.symbols if s not in fresh)
        bucket = buckets[deployment.pk]
        if deployment.state == DeploymentState.STOPPED and not bucket.held() and not bucket.open_sells:
            from trading.live.services import claims_release

            claims_release(Deployment(pk=deployment.pk, account_id=deployment.account_id), keep_held=False)
            continue  # closed out: its symbols are free for the account's other deployments
        held_stale = [s for s in bucket.held() if s not in fresh and s not in deployment.symbols]
        note = _stale_note(stale + held_stale, slot) if stale or held_stale else ""
        if key in errors:
            note = _("The strategy's signals could not be computed: {error}").format(error=errors[key])
        if (stale and len(stale) == len(deployment.symbols)) or key in errors:
            report.stale += 1
            report.notes[deployment.pk] = note
            if deployment.data_note != note[:300]:
                Deployment.objects.filter(pk=deployment.pk).update(data_note=note[:300])
            continue
        context = Context(slot, bars, signals.get(key, {}), prices, lots, commission,
                          frozenset(stale + held_stale))
        intents.extend(deployment_intents(deployment, bucket, context))
        deployment.data_note = note[:300]
        decided.append(deployment)
    rows = [_signal_row(item, slot) for item in intents]
    by_note: dict[str, list[int]] = defaultdict(list)
    for deployment in decided:
        by_note[deployment.data_note].append(deployment.pk)
    with transaction.atomic():
        DeploymentSignal.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        for note, ids in by_note.items():  # one UPDATE per note (most have none), in chunks
            for i in range(0, len(ids), 2000):
                Deployment.objects.filter(pk__in=ids[i:i + 2000]).update(last_decision_at=slot.at, data_note=note)
    report.deployments = len(decided)
    report.intents = len(rows)
    report.waiting = sum(1 for r in rows if r.outcome == SignalOutcome.WAITING)
    return report


def decide(*, deployment_ids: list[int] | None = None, now: dt.datetime | None = None,
           lookback_days: int = LOOKBACK_DAYS) -> RunReport:
    """Phase 1: every due deployment (only ``deployment_ids`` when given: a batch of a worker)
    decides at its slot; nothing is sent."""
    now = now or clock.now()
    report = RunReport()
    for slot, deployments in due_deployments(now=now, ids=deployment_ids).items():
        report.add(decide_slot(slot, deployments, lookback_days=lookback_days))
    return report


def batches(deployments: list[Deployment], *, size: int = 500) -> list[list[int]]:
    """Deployment ids in batches of about ``size``, those with the same symbols side by side (a
    batch reads the bars of its symbols once): the Celery tick hands one batch to each worker."""
    ordered = sorted(deployments, key=lambda d: (sorted(d.symbols), d.pk))
    return [[d.pk for d in ordered[i:i + size]] for i in range(0, len(ordered), size)]


def _send(signal: DeploymentSignal, now: dt.datetime, quantity: Decimal | None = None) -> str:
    """Send one signal to ``order_place``; record and return its outcome."""
    from core.audit import Actor
    from core.errors import ApplicationError
    from trading.brokers.base import OrderType
    from trading.orders.models import OrderSource
    from trading.orders.place import OrderRefused, order_place

    deployment = signal.deployment
    quantity = signal.quantity if quantity is None else quantity
    closing = deployment.state == DeploymentState.STOPPED and signal.reason == SignalReason.CLOSE_ALL
    if deployment.state != DeploymentState.RUNNING and not closing:
        message = _("Not sent: the deployment was {state} before its order went out.").format(
            state=deployment.get_state_display().lower())
        DeploymentSignal.objects.filter(pk=signal.pk).update(outcome=SignalOutcome.SKIPPED, outcome_message=message)
        return SignalOutcome.SKIPPED
    try:
        order = order_place(actor=Actor.strategy(f"deployment {deployment.pk}"), account=deployment.account,
                            symbol=signal.symbol, side=signal.side, quantity=quantity, order_type=OrderType.MARKET,
                            intent_id=signal.intent_id, source=OrderSource.STRATEGY)
    except OrderRefused as exc:
        message = " ".join(str(f["message"]) for f in exc.failures)
        outcome, order = SignalOutcome.REFUSED, None
    except ApplicationError as exc:
        message, outcome, order = str(exc.message), SignalOutcome.REFUSED, None
    else:
        message, outcome = "", SignalOutcome.ORDERED
    DeploymentSignal.objects.filter(pk=signal.pk).update(outcome=outcome, outcome_message=message[:300], order=order,
                                                         quantity=quantity)
    return outcome


def _today(now: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(now.astimezone(SEOUL).date(), dt.time(0, 0), SEOUL)


SLOT_BUSY_SECONDS = 120  # a slot whose batches are still deciding is not guarded nor sent for this long


def slot_busy_key(at: dt.datetime) -> str:
    """The cache key the Celery tick sets while a slot's batches decide (``trading.live.tasks``)."""
    return f"live:slot-busy:{at.isoformat()}"


def _intent_of(row: DeploymentSignal) -> Intent:
    deployment = row.deployment
    return Intent(row.deployment_id, deployment.owner_id, deployment.account_id, row.symbol, row.side, row.reason,
                  float(row.price or 0), float(row.quantity_wanted), row.bar_date,
                  waiting=row.outcome == SignalOutcome.WAITING, extra={"row": row})


def guard_slot(*, decided_at: dt.datetime, now: dt.datetime) -> int:
    """The guard over EVERY signal of one decision time at once (all deployments, all users), before
    any of them is sent: each pending or waiting one gets its verdict, code, message and quantity
    (a blocked one, or one trimmed to nothing, ends ``blocked``). Deterministic from the wanted
    quantities, so running it again changes nothing. Returns how many rows changed."""
    rows = list(DeploymentSignal.objects.filter(decided_at=decided_at)
                .select_related("deployment").order_by("-side", "deployment_id", "id"))
    intents = guard_intents([_intent_of(row) for row in rows], now=now)
    changed = []
    for item in intents:
        row = item.extra["row"]
        if row.outcome not in (SignalOutcome.PENDING, SignalOutcome.WAITING):
            continue
        final = _decimal_quantity(item.quantity if item.final_quantity is None else item.final_quantity)
        outcome = row.outcome
        if item.verdict == Verdict.BLOCKED or final <= 0:
            outcome = SignalOutcome.BLOCKED
        values = {"verdict": item.verdict, "guard_code": item.guard_code, "guard_message": item.guard_message[:300],
                  "quantity": final, "outcome": outcome}
        if any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            changed.append(row)
    _write_verdicts(changed)
    return len(changed)


def _write_verdicts(rows: list[DeploymentSignal]) -> None:
    """One parametrised UPDATE run for every row (``bulk_update``'s CASE per row costs seconds for
    thousands of verdicts)."""
    from django.db import connection

    if not rows:
        return
    quote = connection.ops.quote_name
    names = ("verdict", "guard_code", "guard_message", "quantity", "outcome")
    sql = (f"UPDATE {quote(DeploymentSignal._meta.db_table)} SET "
           + ", ".join(f"{quote(name)} = %s" for name in names) + f" WHERE {quote('id')} = %s")
    field = DeploymentSignal._meta.get_field("quantity")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, [(r.verdict, r.guard_code, r.guard_message,
                                  connection.ops.adapt_decimalfield_value(r.quantity, field.max_digits,
                                                                          field.decimal_places),
                                  r.outcome, r.pk) for r in rows])


def guard_and_send(*, now: dt.datetime | None = None) -> RunReport:
    """Phase 2: for each decision time of today (up to ``now``) with pending signals and no batch
    still deciding, the guard over all of its signals, then every pending one to ``order_place``
    (sells before buys)."""
    from django.core.cache import cache

    now = now or clock.now()
    report = RunReport()
    today = DeploymentSignal.objects.filter(decided_at__gte=_today(now), decided_at__lte=now)
    slots = sorted(set(today.filter(outcome=SignalOutcome.PENDING).values_list("decided_at", flat=True)))
    for decided_at in slots:
        if cache.get(slot_busy_key(decided_at)):
            continue
        guard_slot(decided_at=decided_at, now=now)
        report.blocked += today.filter(decided_at=decided_at, outcome=SignalOutcome.BLOCKED).count()
        pending = (today.filter(decided_at=decided_at, outcome=SignalOutcome.PENDING)
                   .select_related("deployment", "deployment__account").order_by("-side", "id"))
        for signal in pending:
            outcome = _send(signal, now)
            report.ordered += outcome == SignalOutcome.ORDERED
            report.refused += outcome == SignalOutcome.REFUSED
    return report


def daily_loss_pause(*, now: dt.datetime | None = None) -> list[int]:
    """Pause every running deployment of a user whose loss today reached their
    ``RiskSettings.daily_loss_limit`` (``trading.risk.daily_loss_breached``: percent of the day's
    starting equity); the ids of the users paused."""
    from django.contrib.auth import get_user_model

    from core.audit import Actor
    from trading.live.guarding import daily_loss_users
    from trading.live.models import RiskSettings
    from trading.live.services import deployments_pause_all

    now = now or clock.now()
    users = (RiskSettings.objects.filter(daily_loss_limit__gt=0, user__deployments__state=DeploymentState.RUNNING)
             .values_list("user_id", flat=True).distinct())
    paused = []
    for user_id, (loss, limit) in daily_loss_users(list(users), now=now).items():
        reason = _("Today's loss of {loss} KRW reached your daily loss limit ({limit} percent of the day's "
                   "starting equity): every deployment is paused.").format(loss=f"{loss:,.0f}", limit=limit)
        deployments_pause_all(actor=Actor.system("runner"), user=get_user_model().objects.get(pk=user_id),
                              code="daily_loss", reason=reason)
        paused.append(user_id)
    return paused


def run_due(*, now: dt.datetime | None = None, lookback_days: int = LOOKBACK_DAYS) -> RunReport:
    """The beat's entry: the daily loss limits first, then decide every due deployment, guard and
    send (also what a previous run left pending), then the waiting buys whose sells have filled."""
    now = now or clock.now()
    daily_loss_pause(now=now)
    report = decide(now=now, lookback_days=lookback_days)
    report.add(guard_and_send(now=now))
    report.add(place_waiting(now=now))
    return report


def place_waiting(*, now: dt.datetime | None = None) -> RunReport:
    """Send today's waiting buys of decisions whose sells are all done (filled, or final); each is
    trimmed to what the bucket's cash now buys at the latest price (never more than decided)."""
    from trading.orders.states import FINAL

    now = now or clock.now()
    report = RunReport()
    waiting = list(DeploymentSignal.objects.filter(outcome=SignalOutcome.WAITING, decided_at__gte=_today(now),
                                                   decided_at__lte=now)
                   .select_related("deployment", "deployment__account").order_by("decided_at", "id"))
    if not waiting:
        return report
    keys = {(s.deployment_id, s.decided_at) for s in waiting}
    sells = DeploymentSignal.objects.filter(deployment_id__in={k[0] for k in keys}, side="sell",
                                            decided_at__in={k[1] for k in keys}).select_related("order")
    busy = {(s.deployment_id, s.decided_at) for s in sells
            if s.outcome in (SignalOutcome.PENDING, SignalOutcome.WAITING)
            or (s.outcome == SignalOutcome.ORDERED and s.order is not None and s.order.state not in FINAL)}
    commission = _commission()
    ready = [s for s in waiting if (s.deployment_id, s.decided_at) not in busy]
    buckets = buckets_of({s.deployment_id: s.deployment.capital for s in ready}, commission=commission)
    for signal in ready:
        bucket = buckets[signal.deployment_id]
        price = float(signal.price or 0)
        lot = float(_lot(signal.symbol))
        affordable = sizing.buy_lots(budget=bucket.available, price=price, lot=lot, commission=commission)
        quantity = min(float(signal.quantity), affordable)
        if quantity <= 0:
            DeploymentSignal.objects.filter(pk=signal.pk).update(
                outcome=SignalOutcome.SKIPPED, quantity=0,
                outcome_message=_("The sells left too little cash for this buy.")[:300])
            continue
        outcome = _send(signal, now, _decimal_quantity(quantity))
        if outcome == SignalOutcome.ORDERED:
            bucket.open_buys[signal.symbol] = sizing.buy_cost(quantity, price, commission)
        report.ordered += outcome == SignalOutcome.ORDERED
        report.refused += outcome == SignalOutcome.REFUSED
    return report


def _lot(symbol: str) -> float:
    from marketdata.selectors import instrument_lots

    return instrument_lots(codes=[symbol]).get(symbol, (1.0, 0.0))[0]


__all__ = [
    "Intent", "RunReport", "Slot", "batches", "daily_loss_pause", "decide", "decide_slot", "deployment_intents", "due_deployments",
    "guard_and_send", "guard_intents", "guard_slot", "slot_busy_key", "load_bars", "place_waiting", "run_due", "slot_at",
]
