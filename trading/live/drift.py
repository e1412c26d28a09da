"""Live versus backtest: what the engine does on the same bars with the same parameters, day by day,
against what the deployment's signals actually filled.

``drift_report(deployment)`` runs the backtest engine over the deployment's window (a replay's
``replay_start`` .. ``replay_end``; a live deployment's first day .. today) with the deployment's
snapshot (``strategy_type``, ``params``, ``risk``), ``cash`` = its capital, one shared account and
the fill rule of its timing (at the open: ``next_open``; at the close: ``close``), the paper
broker's commission and the dated sell tax. The indicators see the bars before the window (the
same history the runner reads); the engine is flat until the window's first decision, so both
start with the same bucket.

Each engine trade is a buy leg and, once closed, a sell leg, keyed by (day, symbol, side); the
deployment's legs are its signals' orders' fills on their decision day. A key both have is
``matched`` (slippage per share against the engine's price: what the trader paid more on a buy,
received less on a sell; in KRW, in KRW over the quantity and in basis points), one only the engine
has is ``missed`` (with why: blocked by the guard, refused by the order checks, rejected, not
filled, or no signal at all), one only the deployment has is ``extra``; a missed trade the
deployment made up to ``LATE_DAYS`` trading days later is one ``late`` row (a stop the engine takes
inside a bar, which a deployment acting at the open takes at the next open); a signal blocked or
refused where the engine did not trade either is listed as ``blocked``.

``backtest_equity(deployment)``: the engine's equity at each close of the window, for the equity
curve beside the deployment's own (``DeploymentDay.equity``).

An interval deployment (every N minutes) has no daily backtest to match: its report is computed
with the open's rule and says so (``comparable=False``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _

from core import clock
from marketdata.calendars import KRX, SEOUL
from trading.live.models import Deployment, DeploymentDay, DeploymentSignal, DeploymentTiming, SignalOutcome, Verdict

ZERO = Decimal(0)
BPS = Decimal(10_000)
MATCHED, LATE, MISSED, EXTRA, BLOCKED = "matched", "late", "missed", "extra", "blocked"
LATE_DAYS = 5  # trading days a fill may come after the engine's and still be its late fill


@dataclass(frozen=True)
class Leg:
    """One side of a trade on one day: what the engine did or what the deployment filled."""

    day: dt.date
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    price: Decimal  # the engine's reference price; the deployment's average fill price
    reason: str = ""


@dataclass(frozen=True)
class DriftRow:
    day: dt.date
    symbol: str
    side: str
    kind: str  # matched | late | missed | extra | blocked
    engine_quantity: Decimal | None = None
    engine_price: Decimal | None = None
    live_quantity: Decimal | None = None
    live_price: Decimal | None = None
    why: str = ""
    live_day: dt.date | None = None  # a late fill's day (``day`` is the engine's)
    refused: bool = False  # the deployment's signal was blocked, refused or not filled

    @property
    def price_difference(self) -> Decimal | None:
        """The deployment's price less the engine's, per share (KRW)."""
        if self.engine_price is None or self.live_price is None:
            return None
        return self.live_price - self.engine_price

    @property
    def slippage(self) -> Decimal | None:
        """What the fill cost the trader per share against the engine's price (KRW; negative: better)."""
        difference = self.price_difference
        if difference is None:
            return None
        return difference if self.side == "buy" else -difference

    @property
    def slippage_value(self) -> Decimal | None:
        """The slippage over the quantity filled (KRW)."""
        if self.slippage is None or self.live_quantity is None:
            return None
        return self.slippage * self.live_quantity

    @property
    def slippage_bps(self) -> Decimal | None:
        if self.slippage is None or not self.engine_price:
            return None
        return (self.slippage / self.engine_price * BPS).quantize(Decimal("0.01"))

    @property
    def other_price(self) -> bool:
        return bool(self.price_difference)

    @property
    def quantity_differs(self) -> bool:
        return self.kind in (MATCHED, LATE) and self.engine_quantity != self.live_quantity


@dataclass(frozen=True)
class DriftDay:
    day: dt.date
    rows: list[DriftRow]
    engine_equity: Decimal | None
    live_equity: Decimal | None

    @property
    def equity_difference(self) -> Decimal | None:
        if self.engine_equity is None or self.live_equity is None:
            return None
        return self.live_equity - self.engine_equity


@dataclass(frozen=True)
class DriftTotals:
    engine_trades: int = 0
    live_trades: int = 0
    matched: int = 0
    late: int = 0
    missed: int = 0
    extra: int = 0
    blocked: int = 0
    other_price: int = 0
    quantity_differs: int = 0
    slippage_value: Decimal = ZERO  # KRW over every matched fill
    slippage_bps: Decimal | None = None  # value-weighted over the matched fills

    @property
    def agrees(self) -> bool:
        """Trade for trade: nothing missed or extra, same quantities, same prices."""
        return not (self.late or self.missed or self.extra or self.other_price or self.quantity_differs)


@dataclass(frozen=True)
class DriftReport:
    deployment_id: int
    start: dt.date | None
    end: dt.date | None
    fill: str
    comparable: bool
    days: list[DriftDay] = field(default_factory=list)
    totals: DriftTotals = field(default_factory=DriftTotals)
    note: str = ""
    names: dict[str, str] = field(default_factory=dict)  # the symbols' names, for the page

    @property
    def rows(self) -> list[DriftRow]:
        return [row for day in self.days for row in day.rows]


# -- the window -----------------------------------------------------------------------------------
def report_window(deployment: Deployment) -> tuple[dt.date | None, dt.date | None]:
    """(first day, last day) the report covers: a replay's days played so far, or from the first trading day
    whose slot came after the deployment started (a start at 10:00 decides the next morning) to
    today or the day it stopped; (None, None) before it ever ran."""
    if deployment.replay and deployment.replay_start:
        from trading.live.replay import replay_window

        start, _end = replay_window(deployment)
        played = (DeploymentDay.objects.filter(deployment=deployment, day__gte=start)
                  .order_by("-day").values_list("day", flat=True).first())
        return (start, played) if played else (None, None)  # up to the last replayed day
    if deployment.started_at is None:
        return None, None
    started = deployment.started_at.astimezone(SEOUL)
    day = started.date()
    if not KRX.is_trading_day(day) or started >= _slot_time(deployment, day):
        day = KRX.next_trading_day(day)
    return day, (deployment.stopped_at or clock.now()).astimezone(SEOUL).date()


def _slot_time(deployment: Deployment, day: dt.date) -> dt.datetime:
    """When the deployment decides on ``day`` (the runner's slots: the pre-open auction, or the
    closing auction; the open for an interval deployment)."""
    session = KRX.session(day)
    if deployment.timing == DeploymentTiming.CLOSE:
        return session.close - dt.timedelta(minutes=10)
    if deployment.timing == DeploymentTiming.OPEN:
        return session.open - dt.timedelta(minutes=30)
    return session.open


def engine_fill(deployment: Deployment) -> str:
    return "close" if deployment.timing == DeploymentTiming.CLOSE else "next_open"


# -- the engine's side ----------------------------------------------------------------------------
@dataclass(frozen=True)
class EngineRun:
    legs: list[Leg]
    equity: list[tuple[dt.date, Decimal]]


def _decimal(value: float) -> Decimal:
    """A float of the engine as a plain Decimal (12030.0 → 12030, never 1.203E+4)."""
    return _plain(Decimal(repr(float(value))))


def _plain(number: Decimal) -> Decimal:
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def _engine_config(deployment: Deployment, fill: str):
    from backtests.engine import EngineConfig
    from backtests.engine.costs import Costs

    options = dict(deployment.risk or {})
    sizing = options.get("sizing", "all_in")
    if isinstance(sizing, list):  # a tuple saved as JSON
        options["sizing"] = (sizing[0], float(sizing[1]))
    commission = float(getattr(settings, "PAPER_COMMISSION_RATE", 0.00015))
    return EngineConfig(cash=float(deployment.capital), costs=Costs(commission=commission), fill=fill,
                        accounts="shared", **options)


_shared_runs: contextvars.ContextVar[dict | None] = contextvars.ContextVar("drift_shared_runs", default=None)
_keep_runs: contextvars.ContextVar[bool] = contextvars.ContextVar("drift_keep_runs", default=False)


@contextlib.contextmanager
def engine_runs_shared(*, kept: bool = False) -> Iterator[None]:
    """Within the block, ``engine_run`` of the same deployment (every field equal) and window is
    computed once: the deployment page asks for it twice (the drift report and the chart's
    backtest curve). Only around one page's rendering: the bars do not change meanwhile.

    ``kept``: also reuse a run an earlier page computed from the very same inputs (``_run_inputs``:
    the bar files as they are now, the lots, the snapshot, the window), and keep this one for the
    next: the deployment page and its live refreshes. Outside such a block every call computes
    afresh."""
    token, keep = _shared_runs.set({}), _keep_runs.set(kept)
    try:
        yield
    finally:
        _shared_runs.reset(token)
        _keep_runs.reset(keep)


def engine_run(deployment: Deployment, start: dt.date, end: dt.date) -> EngineRun | None:
    """The engine over ``start`` .. ``end`` with the deployment's snapshot (module docstring); None
    when the store has no bar of its symbols in the window."""
    shared = _shared_runs.get()
    if shared is None:
        return _engine_run(deployment, start, end)
    key = (start, end, tuple(repr(getattr(deployment, f.attname)) for f in deployment._meta.concrete_fields))
    if key not in shared:
        shared[key] = (_engine_run_kept if _keep_runs.get() else _engine_run)(deployment, start, end)
    return shared[key]


# Engine runs kept per process for ``engine_runs_shared(kept=True)``, keyed by everything a run
# reads: the window, the deployment's snapshot, each symbol's bar file as it is now (inode, size,
# mtime: what ``BarStore.read_tail`` keys its tails by), the instrument master's lots and the
# commission. A new bar, another lot or a changed parameter is another key, so a kept run is never
# stale; it spares the deployment page (and its live refreshes) re-reading the bar files and
# re-running the engine on each request.
KEPT_RUNS = 128
_kept_runs: OrderedDict[tuple, EngineRun | None] = OrderedDict()
_kept_runs_lock = threading.Lock()


def _run_inputs(deployment: Deployment, start: dt.date, end: dt.date) -> tuple:
    from marketdata.selectors import bar_store, instrument_lots

    store = bar_store()
    files = [(code, store.file_version(code)) for code in deployment.symbols]
    return (str(store.root), start, end, deployment.timing, deployment.strategy_type, repr(deployment.params),
            repr(deployment.risk), str(deployment.capital), tuple(files),
            tuple(sorted(instrument_lots(codes=deployment.symbols).items())),
            repr(getattr(settings, "PAPER_COMMISSION_RATE", None)))


def _engine_run_kept(deployment: Deployment, start: dt.date, end: dt.date) -> EngineRun | None:
    key = _run_inputs(deployment, start, end)
    with _kept_runs_lock:
        if key in _kept_runs:
            _kept_runs.move_to_end(key)
            return _kept_runs[key]
    found = _engine_run(deployment, start, end)
    with _kept_runs_lock:
        _kept_runs[key] = found
        while len(_kept_runs) > KEPT_RUNS:
            _kept_runs.popitem(last=False)
    return found


def _engine_run(deployment: Deployment, start: dt.date, end: dt.date) -> EngineRun | None:
    from backtests.engine import run
    from backtests.pipeline import NoBarsError, panel_from_store, symbol_lots
    from marketdata.selectors import bar_store, instrument_lots
    from strategies import signals
    from trading.live.runner import LOOKBACK_DAYS

    fill = engine_fill(deployment)
    store = bar_store()
    codes = [code for code in deployment.symbols if store.market_of(code)]
    if not codes:
        return None
    # at the close the last day's signals fill at its own close: one more bar keeps them from
    # being the panel's last (whose signals the engine drops); its own trades fall outside
    last = end + dt.timedelta(days=10) if fill == "close" else end
    try:
        panel, markets = panel_from_store(store, codes, start - dt.timedelta(days=LOOKBACK_DAYS), last)
    except NoBarsError as error:
        codes = [code for code in codes if code not in error.codes]
        if not codes:
            return None
        panel, markets = panel_from_store(store, codes, start - dt.timedelta(days=LOOKBACK_DAYS), last)
    days = panel.dates.astype(dt.date)
    inside = np.array([start <= day <= end for day in days], dtype=bool)
    if not inside.any():
        return None
    first = int(np.flatnonzero(inside)[0])
    sig = signals.compute(deployment.strategy_type, open=panel.open, high=panel.high, low=panel.low,
                          close=panel.close, params=deployment.params)
    # flat until the window's first decision: the last bar before it (at the open) or its first day
    decided_from = max(first - 1, 0) if fill == "next_open" else first
    entries, exits = sig.entries.copy(), sig.exits.copy()
    entries[:, :decided_from] = False
    exits[:, :decided_from] = False
    lot_sizes, minimums = symbol_lots(panel.symbols, markets, instrument_lots(codes=panel.symbols))
    result = run(panel, entries, exits, config=_engine_config(deployment, fill), markets=markets,
                 entry_price=sig.entry_price, lot_sizes=lot_sizes, min_order_values=minimums)
    return EngineRun(legs=_engine_legs(result, days, start, end), equity=_engine_equity(result, days, start, end))


def _engine_legs(result, days: np.ndarray, start: dt.date, end: dt.date) -> list[Leg]:
    from backtests.engine.result import REASONS

    table = result.trade_table
    symbols = result.panel.symbols
    legs = []
    for i in range(len(table)):
        symbol, quantity = symbols[int(table.symbol[i])], _decimal(table.shares[i])
        legs.append(Leg(days[int(table.entry_bar[i])], symbol, "buy", quantity, _decimal(table.entry_price[i]),
                        "entry"))
        if table.exit_bar[i] >= 0:
            legs.append(Leg(days[int(table.exit_bar[i])], symbol, "sell", quantity, _decimal(table.exit_price[i]),
                            REASONS[int(table.reason[i])]))
    return [leg for leg in legs if start <= leg.day <= end]


def _engine_equity(result, days: np.ndarray, start: dt.date, end: dt.date) -> list[tuple[dt.date, Decimal]]:
    equity = result.cash + result.holdings
    return [(day, Decimal(int(round(float(value))))) for day, value in zip(days, equity, strict=True)
            if start <= day <= end]


def backtest_equity(deployment: Deployment, days: list[dt.date] | None = None
                    ) -> list[tuple[dt.date, Decimal]] | list[Decimal | None]:
    """The engine's equity (KRW, whole won) at each close of the deployment's window, as
    ``[(day, equity)]``; [] before it ran or without bars. Given ``days`` (the deployment's own
    ``DeploymentDay`` days, for the chart), the values on those days instead, None where the
    engine has no bar."""
    start, end = report_window(deployment)
    found = engine_run(deployment, start, end) if start is not None and deployment.strategy_type else None
    curve = [] if found is None else found.equity
    if days is None:
        return curve
    by_day = dict(curve)
    return [by_day.get(day) for day in days]


# -- the deployment's side ------------------------------------------------------------------------
def _why_not_filled(signal: DeploymentSignal) -> str:
    if signal.verdict == Verdict.BLOCKED or signal.outcome == SignalOutcome.BLOCKED:
        return signal.guard_message or _("Blocked by the guard.")
    if signal.outcome == SignalOutcome.REFUSED:
        return signal.outcome_message or _("Refused by the order checks.")
    order = signal.order
    if order is not None and order.state == "rejected":
        return order.reject_reason or _("Rejected by the broker.")
    if order is not None:
        return _("Ordered, not filled ({state}).").format(state=order.get_state_display())
    if signal.outcome == SignalOutcome.WAITING:
        return signal.outcome_message or _("Waiting for the sells' cash, never placed.")
    return signal.outcome_message or _("No order was placed.")


# what ``live_legs`` and ``_why_not_filled`` read of a signal and its order (the order's other
# columns were most of the cost of loading them)
LIVE_SIGNAL_FIELDS = ("decided_at", "symbol", "side", "verdict", "guard_message", "outcome", "outcome_message",
                      "order__state", "order__reject_reason", "order__filled_quantity", "order__average_fill_price")


def live_signals(deployment: Deployment, start: dt.date, end: dt.date) -> list[DeploymentSignal]:
    """The deployment's signals decided on the Seoul days ``start`` .. ``end``, oldest first, with
    their orders; only the fields in ``LIVE_SIGNAL_FIELDS`` are loaded."""
    return list(DeploymentSignal.objects.filter(
        deployment=deployment, decided_at__gte=dt.datetime.combine(start, dt.time(0), SEOUL),
        decided_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), SEOUL))
        .select_related("order").only(*LIVE_SIGNAL_FIELDS).order_by("decided_at", "symbol", "side"))


def live_legs(signals: list[DeploymentSignal]) -> tuple[list[Leg], dict[tuple, list[str]]]:
    """(the filled legs, by (day, symbol, side) summed with their average price; why each signal
    that filled nothing did not)."""
    filled: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    unfilled: dict[tuple, list[str]] = defaultdict(list)
    for signal in signals:
        key = (signal.decided_at.astimezone(SEOUL).date(), signal.symbol, signal.side)
        order = signal.order
        if order is not None and order.filled_quantity > 0:
            filled[key][0] += order.filled_quantity
            filled[key][1] += order.filled_quantity * (order.average_fill_price or ZERO)
        elif signal.outcome != SignalOutcome.SKIPPED:
            unfilled[key].append(_why_not_filled(signal))
    legs = [Leg(day, symbol, side, _plain(quantity), _plain(value / quantity))
            for (day, symbol, side), (quantity, value) in filled.items()]
    return legs, unfilled


# -- the report -----------------------------------------------------------------------------------
def _rows(engine: list[Leg], live: list[Leg], unfilled: dict[tuple, list[str]]) -> list[DriftRow]:
    by_engine = {(leg.day, leg.symbol, leg.side): leg for leg in engine}
    by_live = {(leg.day, leg.symbol, leg.side): leg for leg in live}
    rows = []
    for key in sorted(set(by_engine) | set(by_live) | set(unfilled), key=lambda k: (k[0], k[2] != "sell", k[1])):
        ours, theirs = by_live.get(key), by_engine.get(key)
        why = " ".join(dict.fromkeys(unfilled.get(key, [])))
        if ours and theirs:
            rows.append(DriftRow(*key, MATCHED, theirs.quantity, theirs.price, ours.quantity, ours.price, why))
        elif theirs:
            rows.append(DriftRow(*key, MISSED, theirs.quantity, theirs.price, why=why or _no_signal(),
                                 refused=bool(why)))
        elif ours:
            rows.append(DriftRow(*key, EXTRA, live_quantity=ours.quantity, live_price=ours.price))
        else:
            rows.append(DriftRow(*key, BLOCKED, why=why, refused=True))
    return _pair_late(rows)


def _pair_late(rows: list[DriftRow]) -> list[DriftRow]:
    """A missed engine trade and a fill of the same symbol and side up to ``LATE_DAYS`` trading days
    later that the engine has no trade for: one ``late`` row (an exit the engine took inside a bar,
    a stop, that the deployment could only take at a later open)."""
    extras = [row for row in rows if row.kind == EXTRA]
    paired: dict[int, DriftRow] = {}
    used: set[int] = set()
    for i, row in enumerate(rows):
        if row.kind != MISSED:
            continue
        horizon = KRX.trading_days(row.day, row.day + dt.timedelta(days=3 * LATE_DAYS))[1:LATE_DAYS + 1]
        for extra in extras:
            if id(extra) in used or extra.symbol != row.symbol or extra.side != row.side or extra.day not in horizon:
                continue
            used.add(id(extra))
            paired[i] = DriftRow(row.day, row.symbol, row.side, LATE, row.engine_quantity, row.engine_price,
                                 extra.live_quantity, extra.live_price, row.why if row.refused else "",
                                 live_day=extra.day, refused=row.refused)
            break
    return [paired.get(i, row) for i, row in enumerate(rows) if id(row) not in used]


def _no_signal() -> str:
    return _("The deployment recorded no signal.")


def _totals(rows: list[DriftRow], engine: list[Leg], live: list[Leg]) -> DriftTotals:
    matched = [row for row in rows if row.kind in (MATCHED, LATE)]
    slipped = sum((row.slippage_value for row in matched), ZERO)
    traded = sum((row.engine_price * row.live_quantity for row in matched), ZERO)
    return DriftTotals(
        engine_trades=len(engine), live_trades=len(live), matched=sum(row.kind == MATCHED for row in rows),
        late=sum(row.kind == LATE for row in rows),
        missed=sum(row.kind == MISSED for row in rows), extra=sum(row.kind == EXTRA for row in rows),
        blocked=sum(row.refused for row in rows),
        other_price=sum(row.other_price for row in matched),
        quantity_differs=sum(row.quantity_differs for row in matched),
        slippage_value=slipped,
        slippage_bps=(slipped / traded * BPS).quantize(Decimal("0.01")) if traded else None)


def drift_report(deployment: Deployment) -> DriftReport:
    """The deployment against the engine, day by day (module docstring)."""
    start, end = report_window(deployment)
    fill = engine_fill(deployment)
    comparable = deployment.timing != DeploymentTiming.INTERVAL
    note = "" if comparable else _("A deployment acting every few minutes has no daily backtest to match: "
                                   "the engine here trades at the open.")
    if start is None or not deployment.strategy_type:
        return DriftReport(deployment.pk, None, None, fill, comparable,
                           note=_("The deployment has not run yet."))
    found = engine_run(deployment, start, end)
    engine = found.legs if found else []
    live, unfilled = live_legs(live_signals(deployment, start, end))
    rows = _rows(engine, live, unfilled)
    engine_equity = dict(found.equity) if found else {}
    live_equity = dict(DeploymentDay.objects.filter(deployment=deployment, day__gte=start, day__lte=end)
                       .order_by().values_list("day", "equity"))
    by_day: dict[dt.date, list[DriftRow]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    days = [DriftDay(day, by_day.get(day, []), engine_equity.get(day), live_equity.get(day))
            for day in sorted(set(engine_equity) | set(live_equity) | set(by_day))]
    from marketdata.selectors import instrument_names

    names = instrument_names(codes={row.symbol for row in rows})
    return DriftReport(deployment.pk, start, end, fill, comparable, days, _totals(rows, engine, live), note, names)


__all__ = ["BLOCKED", "EXTRA", "LATE", "MATCHED", "MISSED", "DriftDay", "DriftReport", "DriftRow", "DriftTotals", "Leg",
           "backtest_equity", "drift_report", "engine_run", "live_legs", "report_window"]
