"""Writes of the order ledger: create an order, submit it at most once, cancel it, count its fills.

Every order is written (``new``) before anything is sent; the submit job claims it by
compare-and-set (``new`` → ``submitting``), so a duplicate delivery, a redelivery after the
transport's visibility timeout or two workers at once send it **at most once**. What the broker
answers decides the next state:

- an acknowledgement → ``accepted`` (the broker's numbers saved);
- a definite refusal (``Refused``, ``TokenExpired``) → ``rejected`` with the broker's message; a
  refusal that says a retry may succeed is retried here a few times while the lease holds (rate
  limits are already retried inside the client);
- anything that may have reached the broker (``UnknownOutcome``, an unexpected error while
  sending) → ``unknown``, **never resent**: ``trading.orders.reconcile`` settles it.

A ``submitting`` order whose lease ran out (the worker died before or after sending) becomes
``unknown`` the same way (``orders_expire_leases``). A job never starts a request once less than a
whole request's time (connect + read timeouts) is left on its lease, and the reconciler's "absent"
verdict comes only ``ORDER_NOT_PLACED_AFTER_SECONDS`` after the lease, with several listings
without it: a request still on its way (or waiting for the broker's request budget) is found
instead. The lease should exceed the longest budget wait an account's queue can cause.

Every transition writes an ``OrderEvent``, an audit row (``core.audit``) and publishes
``order.<state>`` on commit (``core.events``). Broker calls are never made inside a transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import clock, events
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from core.metrics import series as metrics
from marketdata.calendars import SEOUL
from trading.brokers.base import (
    BrokerError,
    NotSent,
    OrderAck,
    OrderRequest,
    OrderType,
    Refused,
    Side,
    TokenExpired,
    UnknownOutcome,
)
from trading.brokers.http import send_guard
from trading.models import BrokerAccount
from trading.orders.models import Order, OrderEvent, OrderSource
from trading.orders.positions import order_fill_record
from trading.orders.states import State
from trading.orders.timeline import actor_label, order_move, order_note, order_payload

logger = logging.getLogger("trading.orders")

SUBMITTER = Actor.system("order submission")
CANCELLER = Actor.system("order cancellation")
RETRY_PAUSES = (0.5, 1.0)  # seconds between attempts after a refusal that says "retry"

MESSAGE_FINAL = _("This order is already final and cannot be cancelled.")
MESSAGE_PRICE = _("A limit order needs a price; a market order takes none.")
MESSAGE_QUANTITY = _("The quantity must be above zero.")
MESSAGE_INTENT_TAKEN = _("This order key was already used for another order.")
MESSAGE_SOURCE = _("Orders placed outside the platform are only recorded by reconciliation.")

# Checks a claimed order passes just before it is sent (a kill switch pulled while it waited in the
# queue): each raises ``Refused`` to reject it unsent. Registered by the app (``send_check_add``).
SendCheck = Callable[[Order], None]
_send_checks: list[SendCheck] = []


def send_check_add(check: SendCheck) -> None:
    """Run ``check(order)`` before every send (added once); it raises ``Refused`` to stop it."""
    if check not in _send_checks:
        _send_checks.append(check)


def setting(name: str, default: float) -> float:
    """An order-ledger setting in seconds or counts (``config/settings.py``, with defaults here)."""
    return float(getattr(settings, name, default))


def lease_seconds() -> float:
    """How long a claimed order may stay ``submitting`` before it counts as ``unknown``."""
    return setting("ORDER_SUBMIT_LEASE_SECONDS", 30.0)


def send_budget_seconds() -> float:
    """The longest one order request can take (connect + read timeouts, and a margin)."""
    return float(settings.BROKER_HTTP_CONNECT_TIMEOUT) + float(settings.BROKER_HTTP_READ_TIMEOUT) + 2.0


# -- create --------------------------------------------------------------------------------------
def order_create(*, actor: Actor, account: BrokerAccount, symbol: str, side: Side | str, quantity: Decimal,
                 order_type: OrderType | str = OrderType.LIMIT, price: Decimal | None = None,
                 source: str = OrderSource.MANUAL, intent_id: uuid.UUID | None = None) -> Order:
    """Write the order (``new``) with its timeline, audit row and event; enqueue the submit job on
    commit (the relay, ``orders_waiting``, enqueues it again if that enqueue is lost).

    The input is **already checked**: every door (page, API, admin, strategy) runs the pre-trade
    checks of ``trading.risk`` first and calls this only when they pass. Here only the shape is
    enforced. ``intent_id`` makes the call idempotent: the same intent returns the order it made.
    Raises ``ApplicationError`` (``MESSAGE_*``).
    """
    order_type = OrderType(order_type)
    if source not in (OrderSource.MANUAL, OrderSource.STRATEGY, OrderSource.ADMIN):
        raise ApplicationError(str(MESSAGE_SOURCE), field="source", code="invalid_source")
    if quantity is None or Decimal(quantity) <= 0:
        raise ApplicationError(str(MESSAGE_QUANTITY), field="quantity", code="invalid_quantity")
    if order_type.needs_price != (price is not None) or (price is not None and Decimal(price) <= 0):
        raise ApplicationError(str(MESSAGE_PRICE), field="price", code="invalid_price")
    if intent_id is not None:
        existing = Order.objects.filter(intent_id=intent_id).first()
        if existing is not None:
            return _same_intent(existing, account)
    try:
        with transaction.atomic():
            order = Order.objects.create(
                owner_id=account.owner_id, account=account, source=source, symbol=symbol, side=Side(side),
                quantity=Decimal(quantity), order_type=order_type, price=None if price is None else Decimal(price),
                intent_id=intent_id or uuid.uuid4())
            if getattr(actor.user, "pk", None) == account.owner_id:
                order.owner = actor.user  # the audit row's owner without reading the user again
            OrderEvent.objects.create(order=order, from_state="", to_state=State.NEW, actor_label=actor_label(actor),
                                      at=clock.now())
            audit_record(actor=actor, action="order.create", owner=order.owner, target=order,
                         after={"state": State.NEW, "symbol": symbol, "side": str(side),
                                "quantity": f"{Decimal(quantity).normalize():f}", "order_type": str(order_type),
                                "price": None if price is None else f"{Decimal(price).normalize():f}",
                                "source": str(source), "intent_id": str(order.intent_id)})
            events.publish(user_id=order.owner_id, event="order.new", payload=order_payload(order))
            order_id = order.pk
            transaction.on_commit(lambda: enqueue_submit(order_id))
    except IntegrityError:
        existing = Order.objects.filter(intent_id=intent_id).first() if intent_id else None
        if existing is None:
            raise
        return _same_intent(existing, account)
    return order


def _same_intent(order: Order, account: BrokerAccount) -> Order:
    if order.account_id != account.pk:
        raise ApplicationError(str(MESSAGE_INTENT_TAKEN), code="intent_taken")
    return order


def enqueue_task(send, failed: str, *args) -> None:
    """Hand a task to the task broker; if it is down, log `failed % args`: the relay (or the next sweep) makes it good."""
    try:
        send()
    except Exception:
        logger.warning(failed, *args, exc_info=True)


def enqueue_submit(order_id: int) -> None:
    """Hand the order to a worker; a lost message is made good by the relay. Not from a replay
    (``clock.is_scoped()``): a worker reads the platform's clock, and the replay sends its orders
    itself at the replayed time (``trading.live.replay``)."""
    from trading.orders import tasks

    if clock.is_scoped():
        return

    enqueue_task(lambda: tasks.order_submit.delay(order_id), "order %s: enqueue failed; the relay will send it", order_id)


def enqueue_cancel(order_id: int) -> None:
    from trading.orders import tasks

    enqueue_task(lambda: tasks.order_cancel.delay(order_id), "order %s: cancel enqueue failed; the relay will send it", order_id)


def enqueue_reconcile(account_id: int) -> None:
    from trading.orders import tasks

    enqueue_task(lambda: tasks.orders_reconcile_account.apply_async((account_id,), countdown=tasks.follow_up_seconds()),
                 "account %s: reconcile enqueue failed", account_id)


# -- submit --------------------------------------------------------------------------------------
def order_claim(*, order_id: int, now: dt.datetime | None = None) -> Order | None:
    """Compare-and-set ``new`` → ``submitting`` with a lease; the claimed order, or None when
    another job has it (or it is no longer ``new``)."""
    now = now or clock.now()
    lease = now + dt.timedelta(seconds=lease_seconds())
    with transaction.atomic():
        claimed = Order.objects.filter(pk=order_id, state=State.NEW).update(
            state=State.SUBMITTING, submitted_at=now, lease_until=lease, order_day=now.astimezone(SEOUL).date(),
            updated_at=now)
        if not claimed:
            return None
        order = Order.objects.select_related("account", "owner").get(pk=order_id)
        OrderEvent.objects.create(order=order, from_state=State.NEW, to_state=State.SUBMITTING,
                                  actor_label=actor_label(SUBMITTER), at=now)
        audit_record(actor=SUBMITTER, action="order.submitting", owner=order.owner, target=order,
                     before={"state": State.NEW}, after={"state": State.SUBMITTING, "lease_until": lease.isoformat()})
        events.publish(user_id=order.owner_id, event="order.submitting", payload=order_payload(order))
    return order


def _lease_allows_sending(order_id: int) -> bool:
    """True while the lease leaves room for one whole request (it then ends before the lease)."""
    latest = clock.now() + dt.timedelta(seconds=send_budget_seconds())
    return Order.objects.filter(pk=order_id, state=State.SUBMITTING, lease_until__gt=latest).exists()


def _request(order: Order) -> OrderRequest:
    return OrderRequest(symbol=order.symbol, side=Side(order.side), quantity=order.quantity,
                        order_type=OrderType(order.order_type), price=order.price)


def _send(order: Order) -> OrderAck | BrokerError | None:
    """Place the order; the ack, the error that settles it, or None when the lease ran out first
    (nothing was sent by this attempt)."""
    from trading import connections

    try:
        client = connections.broker_client(order.account)
    except Exception as exc:
        logger.exception("order %s: no broker client", order.pk)
        return Refused(f"the broker client could not be built ({type(exc).__name__})", code="no_client")
    for attempt in range(len(RETRY_PAUSES) + 1):
        if not _lease_allows_sending(order.pk):
            return None
        try:
            # the lease is checked again right before the request is written, after any wait for
            # the shared token or the request budget: a late send never reaches the broker
            with send_guard(lambda: _lease_allows_sending(order.pk)):
                return client.place_order(_request(order))
        except NotSent:
            return None
        except Refused as exc:
            if not exc.retryable or attempt == len(RETRY_PAUSES):
                return exc
            time.sleep(RETRY_PAUSES[attempt])
        except (TokenExpired, UnknownOutcome) as exc:
            return exc
        except BrokerError as exc:
            return UnknownOutcome(exc.message, code=exc.code or "broker_error", broker_message=exc.broker_message)
        except Exception as exc:
            logger.exception("order %s: unexpected error while placing", order.pk)
            return UnknownOutcome(f"unexpected error while sending ({type(exc).__name__})", code="internal")
    return None  # pragma: no cover - the loop always returns


def order_submit(*, order_id: int) -> Order | None:
    """The submit job: claim, send once, record. None when the order was not ours to send."""
    order = order_claim(order_id=order_id)
    return None if order is None else order_send(order=order)


def order_send(*, order: Order) -> Order:
    """Send an order this job has claimed and record what the broker said. Sends nothing once the
    lease is too short for a whole request (the order then waits for reconciliation), nor when a
    send check refuses it (``rejected``, unsent)."""
    try:
        for check in _send_checks:
            check(order)
    except Refused as exc:
        return order_record_refusal(order_id=order.pk, error=exc)
    outcome = _send(order)
    if outcome is None:
        logger.warning("order %s: lease too short to send; reconciliation settles it", order.pk)
        return Order.objects.get(pk=order.pk)
    if isinstance(outcome, OrderAck):
        return order_record_ack(order_id=order.pk, ack=outcome)
    if isinstance(outcome, UnknownOutcome):
        return order_record_unknown(order_id=order.pk, error=outcome)
    return order_record_refusal(order_id=order.pk, error=outcome)


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update().select_related("owner").get(pk=order_id)


def order_record_ack(*, order_id: int, ack: OrderAck) -> Order:
    """The broker took the order: save its numbers; ``submitting``/``unknown`` → ``accepted`` (an
    order already filled before the answer keeps its state). A cancel that waited goes out now."""
    now = clock.now()
    with transaction.atomic():
        order = _locked(order_id)
        order.acknowledged_at = now
        fields = ["acknowledged_at", "broker_order_no", "broker_org_no"]
        if order.broker_order_no and order.broker_order_no != ack.order_no:
            logger.error("order %s: acknowledged as %s, reported as %s", order_id, ack.order_no, order.broker_order_no)
        order.broker_order_no = order.broker_order_no or ack.order_no
        order.broker_org_no = order.broker_org_no or ack.org_no
        if order.state in (State.SUBMITTING, State.UNKNOWN):
            metrics.order_acknowledged(order.submitted_at, now)
            order_move(order, State.ACCEPTED, actor=SUBMITTER, why=ack.message, fields=tuple(fields), now=now)
        elif order.state == State.NOT_PLACED:  # cannot happen while the lease rule holds; never lose it
            logger.error("order %s: answer arrived after it was settled as not placed", order_id)
            order.flag = "acknowledged after it was settled as not placed"
            order.save(update_fields=[*fields, "flag", "updated_at"])
            order_note(order, actor=SUBMITTER, code="late_ack", why=order.flag, now=now)
        else:
            order.save(update_fields=[*fields, "updated_at"])
            order_note(order, actor=SUBMITTER, code="ack", why=ack.message, now=now)
        if order.cancel_requested_at and order.state in (State.ACCEPTED, State.PARTIALLY_FILLED):
            request_cancel(order, actor=CANCELLER, now=now)
    return order


def order_record_refusal(*, order_id: int, error: BrokerError) -> Order:
    """A definite refusal: ``rejected`` with the broker's code and message."""
    with transaction.atomic():
        order = _locked(order_id)
        order.reject_code = (error.code or "")[:32]
        order.reject_reason = (error.broker_message or error.message)[:300]
        order_move(order, State.REJECTED, actor=SUBMITTER, why=error.message, code=order.reject_code,
                   fields=("reject_code", "reject_reason"))
    return order


def order_record_unknown(*, order_id: int, error: BrokerError) -> Order:
    """It may have reached the broker: ``unknown`` (never resent) and a reconciliation soon."""
    now = clock.now()
    with transaction.atomic():
        order = _locked(order_id)
        if order.state != State.SUBMITTING:  # the lease ran out meanwhile: already unknown
            order_note(order, actor=SUBMITTER, code=error.code, why=error.message, now=now)
            return order
        order.unknown_since = now
        order_move(order, State.UNKNOWN, actor=SUBMITTER, why=error.message, code=(error.code or "")[:32],
                   fields=("unknown_since",), now=now)
        account_id = order.account_id
        transaction.on_commit(lambda: enqueue_reconcile(account_id))
    return order


def orders_expire_leases(*, account_id: int | None = None, now: dt.datetime | None = None) -> list[int]:
    """``submitting`` orders whose lease ran out become ``unknown`` (the worker died before or
    after sending; reconciliation decides). The ids moved."""
    now = now or clock.now()
    stale = Order.objects.filter(state=State.SUBMITTING, lease_until__lt=now)
    if account_id is not None:
        stale = stale.filter(account_id=account_id)
    moved = []
    for order_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            order = _locked(order_id)
            if order.state != State.SUBMITTING or order.lease_until is None or order.lease_until >= now:
                continue
            order.unknown_since = now
            order_move(order, State.UNKNOWN, actor=Actor.system("reconciliation"), code="lease_expired",
                       why="no answer recorded within the lease", fields=("unknown_since",), now=now)
            moved.append(order_id)
    return moved


# -- cancel --------------------------------------------------------------------------------------
def request_cancel(order: Order, *, actor: Actor, now: dt.datetime) -> None:
    order.cancel_requested_at = order.cancel_requested_at or now
    order.cancel_sent_at = None
    order_move(order, State.CANCEL_REQUESTED, actor=actor, fields=("cancel_requested_at", "cancel_sent_at"), now=now)
    order_id = order.pk
    transaction.on_commit(lambda: enqueue_cancel(order_id))


def order_cancel_request(*, actor: Actor, order: Order) -> Order:
    """Ask for the order's cancellation. ``new``: cancelled at once (never sent). ``accepted`` /
    ``partially_filled``: ``cancel_requested`` and the cancel job. ``submitting`` / ``unknown``:
    the cancel waits for the answer or the reconciliation. Asking twice changes nothing.
    Raises ``ApplicationError`` (``MESSAGE_FINAL``) for a closed order."""
    now = clock.now()
    with transaction.atomic():
        order = _locked(order.pk)
        if order.state == State.NEW:
            order_move(order, State.CANCELLED, actor=actor, code="cancelled_before_sending", now=now)
        elif order.state in (State.ACCEPTED, State.PARTIALLY_FILLED):
            if order.revise_requested_at is not None and order.revise_sent_at is None:
                order.revise_price = order.revise_quantity = order.revise_requested_at = None
                order.save(update_fields=["revise_price", "revise_quantity", "revise_requested_at", "updated_at"])
                order_note(order, actor=actor, code="revise_dropped", why="the cancel replaces the revision not yet sent",
                           now=now)
            request_cancel(order, actor=actor, now=now)
        elif order.state in (State.SUBMITTING, State.UNKNOWN):
            if order.cancel_requested_at is None:
                order.cancel_requested_at = now
                order.save(update_fields=["cancel_requested_at", "updated_at"])
                order_note(order, actor=actor, code="cancel_waits", why="the cancel waits for the broker's answer",
                           now=now)
                audit_record(actor=actor, action="order.cancel_request", owner=order.owner, target=order,
                             before={"state": order.state}, after={"cancel_requested_at": now.isoformat()},
                             reason="the cancel waits for the broker's answer")
        elif order.state != State.CANCEL_REQUESTED:
            raise ApplicationError(str(MESSAGE_FINAL), code="order_final")
    return order


def order_cancel_send(*, order_id: int) -> Order | None:
    """The cancel job: claim the pending cancel (compare-and-set on ``cancel_sent_at``), send it,
    record: acknowledged → ``cancelled`` (a fill that raced it may still make it ``filled``);
    refused → back to ``accepted``/``partially_filled``; unknown → reconciliation settles it."""
    from trading import connections

    now = clock.now()
    if not Order.objects.filter(pk=order_id, state=State.CANCEL_REQUESTED, cancel_sent_at=None).update(
            cancel_sent_at=now, updated_at=now):
        return None
    order = Order.objects.select_related("account").get(pk=order_id)
    try:
        connections.broker_client(order.account).cancel_order(
            order_no=order.broker_order_no, org_no=order.broker_org_no, symbol=order.symbol, quantity=None)
    except (Refused, TokenExpired) as exc:
        return _cancel_refused(order_id, exc)
    except Exception as exc:  # noqa: BLE001 - it may have reached the broker: the listing tells
        logger.warning("order %s: cancel outcome unknown (%s)", order_id, type(exc).__name__)
        with transaction.atomic():
            order_note(_locked(order_id), actor=CANCELLER, code="cancel_unknown",
                       why="no answer to the cancel; the listing will tell")
        enqueue_reconcile(order.account_id)
        return Order.objects.get(pk=order_id)
    with transaction.atomic():
        order = _locked(order_id)
        if order.state == State.CANCEL_REQUESTED:
            order.cancelled_quantity = order.quantity - order.filled_quantity
            order_move(order, State.CANCELLED, actor=CANCELLER, fields=("cancelled_quantity",))
    return order


def _cancel_refused(order_id: int, error: BrokerError) -> Order:
    with transaction.atomic():
        order = _locked(order_id)
        if order.state == State.CANCEL_REQUESTED:
            back = State.PARTIALLY_FILLED if order.filled_quantity > 0 else State.ACCEPTED
            order.cancel_requested_at = None
            order_move(order, back, actor=CANCELLER, code=(error.code or "cancel_refused")[:32],
                       why=error.broker_message or error.message, fields=("cancel_requested_at",))
    return order


def orders_waiting(*, older_than_seconds: float | None = None, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Orders a lost enqueue left behind: ``new`` ones, cancels and revisions not sent, older than a few
    seconds (``ORDER_RELAY_AFTER_SECONDS``). The relay task enqueues them again."""
    wait = dt.timedelta(seconds=older_than_seconds if older_than_seconds is not None
                        else setting("ORDER_RELAY_AFTER_SECONDS", 5.0))
    # created_at is the wall clock (BaseModel); the cancel's time is the trading clock's
    new = Order.objects.filter(state=State.NEW, created_at__lt=timezone.now() - wait).order_by("pk")
    cancels = Order.objects.filter(state=State.CANCEL_REQUESTED, cancel_sent_at=None,
                                   cancel_requested_at__lt=(now or clock.now()) - wait).order_by("pk")
    from trading.orders.revise import revisions_waiting

    return {"submit": list(new.values_list("pk", flat=True)), "cancel": list(cancels.values_list("pk", flat=True)),
            "revise": revisions_waiting(older_than=wait, now=now)}


__all__ = ["order_cancel_request", "order_cancel_send", "order_claim", "order_create", "order_fill_record",
           "order_record_ack", "order_record_refusal", "order_record_unknown", "order_send", "order_submit",
           "orders_expire_leases", "orders_waiting", "send_check_add"]
