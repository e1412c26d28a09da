"""The runner's second phase: the guard over a decision time, the orders, the buys waiting for cash.

- ``guard_slot(decided_at=, now=)``: the conflict guard over EVERY signal of one decision time at
  once (``guard_intents`` → ``trading.live.guarding``), verdicts written;
- ``guard_and_send(now=)``: each decision time of today whose deciding is over (``slot_busy_key``)
  and with signals not judged yet (``UNJUDGED``) is guarded, then the judged pending signals are
  sent to ``order_place`` (``send_signals``: market orders, the signal's intent id,
  ``source=strategy``, ``actor=Actor.strategy("deployment <pk>")``), the refusal recorded; the
  Celery tick splits a long send over the workers by account (``pending_signals``);
- ``place_waiting(now=)``: the buys waiting for the cash of their decision's sells, once those filled.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from core import clock
from marketdata.calendars import SEOUL
from trading.live import sizing
from trading.live.buckets import buckets_of
from trading.live.decisions import Intent, commission_rate, decimal_quantity
from trading.live.models import DeploymentSignal, DeploymentState, SignalOutcome, SignalReason, Verdict

logger = logging.getLogger("trading.live")
UNJUDGED = ""  # the verdict of a signal the guard has not judged yet: never sent


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


def guard_intents(intents: list[Intent], *, now: dt.datetime) -> list[Intent]:
    """Every intent of one decision time, judged together before any is sent by the conflict guard
    (``trading.risk.guard_intents``: one owner per account and symbol, capital buckets, the user's
    spread and daily loss, the platform's cap per symbol shared pro rata), its context read by
    ``trading.live.guarding``. Sets ``verdict``, ``guard_code``, ``guard_message`` and
    ``final_quantity`` on each; returns the list."""
    from trading.live.guarding import judge

    return judge(intents, now=now)


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
    any of them is sent: each signal not judged yet (``UNJUDGED``) gets its verdict, code, message
    and quantity (a blocked one, or one trimmed to nothing, ends ``blocked``); those judged before
    (a deployment that decided late in the slot, once its bars arrived) stay as they were but count
    in the context (the platform cap sees them). Returns how many rows were judged."""
    rows = list(DeploymentSignal.objects.filter(decided_at=decided_at)
                .select_related("deployment").order_by("-side", "deployment_id", "id"))
    if all(row.verdict != UNJUDGED for row in rows):
        return 0
    intents = guard_intents([_intent_of(row) for row in rows], now=now)
    judged = []
    for item in intents:
        row = item.extra["row"]
        if row.verdict != UNJUDGED:
            continue
        row.quantity = decimal_quantity(item.quantity if item.final_quantity is None else item.final_quantity)
        row.verdict, row.guard_code, row.guard_message = item.verdict, item.guard_code, item.guard_message[:300]
        if row.outcome in (SignalOutcome.PENDING, SignalOutcome.WAITING) and (
                item.verdict == Verdict.BLOCKED or row.quantity <= 0):
            row.outcome = SignalOutcome.BLOCKED
        judged.append(row)
    _write_verdicts(judged)
    return len(judged)


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


def slots_to_guard(*, now: dt.datetime) -> list[dt.datetime]:
    """Today's decision times (up to ``now``) with signals the guard has not judged and no batch
    still deciding."""
    from django.core.cache import cache

    rows = DeploymentSignal.objects.filter(decided_at__gte=_today(now), decided_at__lte=now, verdict=UNJUDGED)
    return [at for at in sorted(set(rows.values_list("decided_at", flat=True))) if not cache.get(slot_busy_key(at))]


def pending_signals(*, now: dt.datetime) -> list[tuple[int, int]]:
    """``(signal id, account id)`` of today's judged signals still to send, sells first."""
    return list(DeploymentSignal.objects.filter(decided_at__gte=_today(now), decided_at__lte=now,
                                                outcome=SignalOutcome.PENDING).exclude(verdict=UNJUDGED)
                .order_by("decided_at", "-side", "id").values_list("id", "deployment__account_id"))


def send_signals(*, signal_ids: list[int], now: dt.datetime) -> RunReport:
    """Send these signals (those still pending) to ``order_place``, in the order given."""
    report = RunReport()
    rows = {row.pk: row for row in DeploymentSignal.objects.filter(pk__in=signal_ids, outcome=SignalOutcome.PENDING)
            .exclude(verdict=UNJUDGED).select_related("deployment", "deployment__account")}
    for pk in signal_ids:
        signal = rows.get(pk)
        if signal is None:
            continue
        try:
            outcome = _send(signal, now)
        except Exception:  # noqa: BLE001 - one failing order must not hold back the others; retried next tick
            logger.exception("signal %s: sending failed; it stays pending", signal.pk)
            continue
        report.ordered += outcome == SignalOutcome.ORDERED
        report.refused += outcome == SignalOutcome.REFUSED
    return report


def expire_missed(*, now: dt.datetime) -> int:
    """Signals of an earlier day never sent (pending, waiting) end ``skipped``, with the reason."""
    return (DeploymentSignal.objects.filter(decided_at__lt=_today(now),
                                            outcome__in=(SignalOutcome.PENDING, SignalOutcome.WAITING))
            .update(outcome=SignalOutcome.SKIPPED,
                    outcome_message=_("Not sent: its trading day ended before it could go out.")))


def guard_and_send(*, now: dt.datetime | None = None) -> RunReport:
    """Phase 2 in this process: the guard over each decision time ready for it (``slots_to_guard``),
    then every judged pending signal of today to ``order_place`` (sells before buys)."""
    now = now or clock.now()
    report = RunReport()
    expire_missed(now=now)
    for decided_at in slots_to_guard(now=now):
        if guard_slot(decided_at=decided_at, now=now):
            report.blocked += DeploymentSignal.objects.filter(decided_at=decided_at,
                                                              outcome=SignalOutcome.BLOCKED).count()
    return report.add(send_signals(signal_ids=[pk for pk, _account in pending_signals(now=now)], now=now))


def place_waiting(*, now: dt.datetime | None = None) -> RunReport:
    """Send today's waiting buys of decisions whose sells are all done (filled, or final), in the
    decision's order: each is trimmed to what the bucket's cash now buys at the price it was sized
    with (an all-in buy the guard passed takes all of it, as the engine's buy after the open's
    sells; nothing left: ``skipped``, with the reason)."""
    from trading.orders.states import FINAL

    now = now or clock.now()
    report = RunReport()
    waiting = list(DeploymentSignal.objects.filter(outcome=SignalOutcome.WAITING, decided_at__gte=_today(now),
                                                   decided_at__lte=now).exclude(verdict=UNJUDGED)
                   .select_related("deployment", "deployment__account").order_by("decided_at", "id"))
    if not waiting:
        return report
    keys = {(s.deployment_id, s.decided_at) for s in waiting}
    sells = DeploymentSignal.objects.filter(deployment_id__in={k[0] for k in keys}, side="sell",
                                            decided_at__in={k[1] for k in keys}).select_related("order")
    busy = {(s.deployment_id, s.decided_at) for s in sells
            if s.outcome in (SignalOutcome.PENDING, SignalOutcome.WAITING)
            or (s.outcome == SignalOutcome.ORDERED and s.order is not None and s.order.state not in FINAL)}
    commission = commission_rate()
    ready = [s for s in waiting if (s.deployment_id, s.decided_at) not in busy]
    buckets = buckets_of({s.deployment_id: s.deployment.capital for s in ready}, commission=commission)
    for signal in ready:
        bucket = buckets[signal.deployment_id]
        price = float(signal.price or 0)
        lot = float(_lot(signal.symbol))
        affordable = sizing.buy_lots(budget=bucket.available, price=price, lot=lot, commission=commission)
        quantity = min(float(signal.quantity), affordable)
        all_in = sizing.sizing_of((signal.deployment.risk or {}).get("sizing", "all_in"))[0] == "all_in"
        if all_in and signal.verdict == Verdict.PASSED:
            quantity = affordable  # the engine's all-in buy spends the cash the sells actually left
        if quantity <= 0:
            DeploymentSignal.objects.filter(pk=signal.pk).update(
                outcome=SignalOutcome.SKIPPED, quantity=0,
                outcome_message=_("The sells left too little cash for this buy.")[:300])
            continue
        outcome = _send(signal, now, decimal_quantity(quantity))
        if outcome == SignalOutcome.ORDERED:
            bucket.open_buys[signal.symbol] = sizing.buy_cost(quantity, price, commission)
        report.ordered += outcome == SignalOutcome.ORDERED
        report.refused += outcome == SignalOutcome.REFUSED
    return report


def _lot(symbol: str) -> float:
    from marketdata.selectors import instrument_lots

    return instrument_lots(codes=[symbol]).get(symbol, (1.0, 0.0))[0]


__all__ = ["UNJUDGED", "RunReport", "SLOT_BUSY_SECONDS", "expire_missed", "guard_and_send", "guard_intents", "guard_slot",
           "pending_signals", "place_waiting", "send_signals", "slot_busy_key", "slots_to_guard"]
