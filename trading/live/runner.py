"""The runner: running deployments decide at their slots and send order intents through the one door.

Public entry points (every one takes ``now``, the trading time, and passes it down; none reads the
clock itself except through its default ``now=None`` → ``core.clock.now()``)::

    run_due(*, now=None, lookback_days=LOOKBACK_DAYS) -> RunReport     # the beat: decide + guard + send
    due_deployments(*, now=None, ids=None) -> dict[Slot, list[DueDeployment]]  # who decides now, by slot
    decide(*, deployment_ids=None, now=None, lookback_days=...) -> RunReport   # phase 1: intents persisted
    decide_slot(slot, deployments, *, lookback_days=...) -> RunReport  # phase 1 for given deployments
    batches(deployments, *, size=500) -> list[list[int]]              # the Celery tick's batches
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
   mid-session find the first decision and never order twice), its verdict empty until the guard
   has judged it (``sending.UNJUDGED``: never sent before).

``guard_and_send`` then takes each decision time whose deciding is over (no Celery batch of it
still running: ``slot_busy_key``) and runs the guard over ALL its signals at once (``guard_slot`` →
``guard_intents``: one owner per account and symbol, then the conflict guard's rules of
``trading.risk``: capital buckets, the user's spread, the platform's cap per symbol shared pro
rata), writes each verdict (passed, trimmed, blocked with its code and message), and sends every
pending signal to ``order_place`` (market orders, ``intent_id`` = the signal's,
``source=strategy``, ``actor=Actor.strategy("deployment <pk>")``); the order checks' refusal (a
kill switch, buying power...) is recorded on the signal. ``place_waiting`` sends the waiting buys
of a decision whose sells have all filled, trimmed to the bucket's cash.

Modules: ``trading.live.decisions`` (slots, bars, signals, intents: pure over what is read),
``trading.live.sending`` (the guard step, the orders, the waiting buys), ``trading.live.guarding``
(the guard's context from the database), ``trading.live.buckets`` (a deployment's cash and positions
from its fills), ``trading.live.sizing`` and ``trading.live.exits`` (the engine's rules, pure),
``trading.live.summary`` (the daily summaries), ``trading.live.tasks`` (Celery).

Not supported: intraday-entry strategy types (``volatility_breakout``'s ``entry_price``) trade like
the others, at the slot (their entry price is not used).

Prices: the expected fill price is the latest price (``trading.paper.prices.latest_price``) when a
quote source is plugged in, else the last bar's close the decision read (never a bar of the future).
A market buy is held by the order checks at the upper price limit (+30 %), so an all-in bucket as
large as the account's cash is refused by the buying-power check: leave the account some room.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from marketdata.calendar_check import broker_says_closed
from marketdata.calendars import calendar_for
from trading.live.buckets import buckets_of
from trading.live.decisions import (
    LOOKBACK_DAYS,
    Bars,
    Context,
    Intent,
    Slot,
    commission_rate,
    compute_signals,
    decimal_quantity,
    deployment_intents,
    expected_prices,
    load_bars,
    params_key,
    slot_at,
)
from trading.live.models import Deployment, DeploymentSignal, DeploymentState, SignalOutcome, Verdict, signal_intent_id
from trading.live.sending import (
    SLOT_BUSY_SECONDS,
    UNJUDGED,
    RunReport,
    guard_and_send,
    guard_intents,
    guard_slot,
    place_waiting,
    slot_busy_key,
)

logger = logging.getLogger("trading.live")


# --- who is due -----------------------------------------------------------------------------------

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
    of ``ids`` when given. Replays are not due: the replay drives them (``decide_slot``). A KRX day
    that KIS's own calendar closed (``marketdata.calendar_check``) has no slot."""
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
        if slot is not None and slot.market == "KRX" and broker_says_closed(slot.day):
            slots[key] = slot = None  # KIS's calendar closed a day ours has open: the safe side wins
        if slot is None or (deployment.last_decision_at is not None and deployment.last_decision_at >= slot.at):
            continue
        due[slot].append(deployment)
    return dict(due)


# --- deciding ------------------------------------------------------------------------------------

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
        quantity_wanted=decimal_quantity(item.quantity), quantity=decimal_quantity(final), verdict=UNJUDGED,
        guard_code=item.guard_code, guard_message=item.guard_message[:300], outcome=outcome,
        outcome_message=item.outcome_message[:300],
        intent_id=signal_intent_id(item.deployment_id, slot.at, item.symbol, item.side))


def _stale_note(symbols: list[str], slot: Slot) -> str:
    return _("No fresh bars for {symbols}: the last completed bar ({day}) is missing, so the runner did not "
             "trade them.").format(symbols=", ".join(symbols[:10]) + ("…" if len(symbols) > 10 else ""),
                                   day=slot.bar_end.isoformat())


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
    prices = expected_prices(bars, fresh, slot)
    lots = instrument_lots(codes=symbols)
    commission = commission_rate()
    buckets = buckets_of({d.pk: d.capital for d in deployments}, commission=commission)
    intents: list[Intent] = []
    decided: list[Deployment] = []
    for deployment in deployments:
        key = params_key(deployment)
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


__all__ = [
    "LOOKBACK_DAYS", "SLOT_BUSY_SECONDS", "Bars", "Context", "DueDeployment", "Intent", "RunReport", "Slot",
    "batches", "daily_loss_pause", "decide", "decide_slot", "deployment_intents", "due_deployments",
    "guard_and_send", "guard_intents", "guard_slot", "load_bars", "place_waiting", "run_due", "slot_at",
    "slot_busy_key",
]
