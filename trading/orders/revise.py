"""Revising an open order (정정): a new limit price, for all or part of what remains.

At KIS, Kiwoom and the paper broker a revision is a new order with its own number, pointing to the
original (KIS ``ORGN_ODNO``); the original keeps its fills and gives up the revised quantity. The
ledger follows them: the revision is asked on the original (``revise_*`` fields), a job sends it on
the same discipline as orders and cancels, and the broker's acknowledgement writes the
**replacement** order (``replaces`` → the original, ``accepted`` with the new number) while the
original counts the moved quantity as cancelled (``cancelled`` when nothing is left).

- The request is checked first: the order is open and not being cancelled, nothing else is being
  revised, the quantity is within what remains, the price is on the tick and within the day's
  ±30 % band, and no kill switch is on. The broker's own check stays the last word (a buy revised
  up needs cash: a refusal says so).
- The job claims the revision by compare-and-set (``revise_sent_at``): sent at most once. It always
  names the quantity, so a fill that races the revision makes the broker refuse it rather than
  move an amount the ledger does not know of.
- A definite refusal clears the request (the order stays as it was; its timeline says why). An
  unknown outcome is **never resent**: reconciliation finds the replacement in the day's listing
  (a row whose original number is this order's) and writes it as if acknowledged
  (``replacement_adopt``); a listing that proves it absent (the original still open with all its
  quantity) clears the request.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext, gettext_lazy as _

from core import clock, events
from core.audit import Actor, audit_record
from core.errors import ApplicationError, NotFound
from trading import risk
from trading.brokers.base import BrokerError, OrderRecord, OrderType, Refused, TokenExpired
from trading.orders.models import Order, OrderEvent, OrderTypeChoice
from trading.orders.states import State
from trading.orders.timeline import actor_label, order_move, order_note, order_payload

logger = logging.getLogger("trading.orders")

REVISER = Actor.system("order revision")
REVISABLE = (State.ACCEPTED, State.PARTIALLY_FILLED)

MESSAGE_NOT_FOUND = _("No such order.")
MESSAGE_NOT_OPEN = _("Only an open order at the broker can be revised.")
MESSAGE_PENDING = _("A revision of this order is already on its way to the broker.")
MESSAGE_LIMIT_ONLY = _("Only limit orders can be revised to a new price.")
MESSAGE_QUANTITY = _("The quantity to revise must be between 1 and the {remaining} still open.")
MESSAGE_SAME = _("The new price is the order's price already.")


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _check(order: Order, price: Decimal, quantity: Decimal) -> None:
    """Raise ``ApplicationError`` naming the first rule the revision breaks."""
    from trading.brokers.paper import PaperRefused
    from trading.killswitch import kill_switches_for
    from trading.paper.prices import instrument_rules, latest_price

    if order.state not in REVISABLE or order.cancel_requested_at is not None:
        raise ApplicationError(str(MESSAGE_NOT_OPEN), code="order_not_open")
    if order.revise_requested_at is not None:
        raise ApplicationError(str(MESSAGE_PENDING), code="revise_pending")
    if order.order_type != OrderTypeChoice.LIMIT:
        raise ApplicationError(str(MESSAGE_LIMIT_ONLY), field="price", code="revise_limit_only")
    remaining = order.remaining_quantity
    if not 0 < quantity <= remaining:
        raise ApplicationError(str(MESSAGE_QUANTITY).format(remaining=_text(remaining)), field="quantity",
                               code="invalid_quantity")
    if price == order.price and quantity == remaining:
        raise ApplicationError(str(MESSAGE_SAME), field="price", code="revise_unchanged")
    failures = risk.kill_switch_failures(kill_switches_for(order.account))
    try:
        rules = instrument_rules(order.symbol)
    except PaperRefused:
        rules = None
    if rules is not None:
        point = latest_price(order.symbol, now=clock.now())
        failures += risk.price_failures(rules, price, None if point is None else point.previous_close)
        failures += risk.quantity_failures(rules, quantity)
    if failures:
        first = failures[0]
        raise ApplicationError(first.message_in(gettext), field=first.field, code=first.code)


def order_revise_request(*, actor: Actor, order: Order, price: Decimal, quantity: Decimal | None = None) -> Order:
    """Ask to move ``quantity`` (None: all that remains) of an open limit order to ``price``; the
    revise job goes out on commit. A user reaches only their own orders (``NotFound``).
    Raises ``ApplicationError`` naming the rule the revision breaks."""
    if actor.kind == "user" and actor.user_id != order.owner_id:
        raise NotFound(str(MESSAGE_NOT_FOUND))
    price = Decimal(price)
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("owner", "account").get(pk=order.pk)
        wanted = order.remaining_quantity if quantity is None else Decimal(quantity)
        _check(order, price, wanted)
        order.revise_price, order.revise_quantity = price, wanted
        order.revise_requested_at, order.revise_sent_at = now, None
        order.save(update_fields=["revise_price", "revise_quantity", "revise_requested_at", "revise_sent_at",
                                  "updated_at"])
        order_note(order, actor=actor, code="revise_requested", now=now,
                   why=f"revise {_text(wanted)} to {_text(price)}")
        audit_record(actor=actor, action="order.revise_request", owner=order.owner, target=order,
                     before={"price": None if order.price is None else _text(order.price)},
                     after={"price": _text(price), "quantity": _text(wanted)})
        events.publish(user_id=order.owner_id, event="order.revise_requested", payload=order_payload(order))
        order_id = order.pk
        transaction.on_commit(lambda: enqueue_revise(order_id))
    return order


def enqueue_revise(order_id: int) -> None:
    from trading.orders import tasks
    from trading.orders.services import enqueue_task

    enqueue_task(lambda: tasks.order_revise.delay(order_id), "order %s: revise enqueue failed; the relay will send it", order_id)


def _locked(order_id: int) -> Order:
    return Order.objects.select_for_update().select_related("owner", "account").get(pk=order_id)


def order_revise_send(*, order_id: int) -> Order | None:
    """The revise job: claim the pending revision (compare-and-set on ``revise_sent_at``), send it
    once, record what the broker said. None when it was not ours to send."""
    from trading import connections
    from trading.orders.services import _send_checks

    now = clock.now()
    if not Order.objects.filter(pk=order_id, state__in=REVISABLE, cancel_requested_at=None,
                                revise_requested_at__isnull=False, revise_sent_at=None).update(
            revise_sent_at=now, updated_at=now):
        return None
    order = Order.objects.select_related("account", "owner").get(pk=order_id)
    quantity = min(order.revise_quantity or order.remaining_quantity, order.remaining_quantity)
    try:
        for check in _send_checks:
            check(order)
        if quantity <= 0:
            raise Refused("nothing is left open to revise", code="revise_nothing_left")
        ack = connections.broker_client(order.account).revise_order(
            order_no=order.broker_order_no, org_no=order.broker_org_no, symbol=order.symbol, quantity=quantity,
            price=order.revise_price, order_type=OrderType.LIMIT)
    except (Refused, TokenExpired) as exc:
        return _refused(order_id, exc)
    except Exception as exc:  # noqa: BLE001 - it may have reached the broker: the listing tells
        logger.warning("order %s: revise outcome unknown (%s)", order_id, type(exc).__name__)
        with transaction.atomic():
            order_note(_locked(order_id), actor=REVISER, code="revise_unknown",
                       why="no answer to the revision; the broker's listing will tell")
        from trading.orders.services import enqueue_reconcile

        enqueue_reconcile(order.account_id)
        return Order.objects.get(pk=order_id)
    return _replaced(order_id, order_no=ack.order_no, org_no=ack.org_no, quantity=quantity,
                     price=order.revise_price, why=ack.message)


def _refused(order_id: int, error: BrokerError) -> Order:
    with transaction.atomic():
        order = _locked(order_id)
        order.revise_price = order.revise_quantity = order.revise_requested_at = order.revise_sent_at = None
        order.save(update_fields=["revise_price", "revise_quantity", "revise_requested_at", "revise_sent_at",
                                  "updated_at"])
        order_note(order, actor=REVISER, code=(error.code or "revise_refused")[:32],
                   why=f"revision refused: {error.broker_message or error.message}")
        events.publish(user_id=order.owner_id, event="order.revise_rejected",
                       payload={**order_payload(order), "reason": error.broker_message or error.message})
    return order


def _replaced(order_id: int, *, order_no: str, org_no: str, quantity: Decimal, price: Decimal, why: str = "",
              now: dt.datetime | None = None) -> Order:
    """Write the replacement (``accepted`` with the broker's new number) and take ``quantity`` off
    the original. Returns the replacement."""
    now = now or clock.now()
    with transaction.atomic():
        original = _locked(order_id)
        existing = Order.objects.filter(account_id=original.account_id, order_day=original.order_day,
                                        broker_order_no=order_no).first()
        if existing is not None:  # the listing adopted it already
            return existing
        replacement = Order.objects.create(
            owner_id=original.owner_id, account_id=original.account_id, source=original.source,
            external=original.external, symbol=original.symbol, side=original.side, quantity=quantity,
            order_type=OrderTypeChoice.LIMIT, price=price, intent_id=uuid.uuid4(), state=State.ACCEPTED,
            broker_order_no=order_no, broker_org_no=org_no or original.broker_org_no, order_day=original.order_day,
            submitted_at=original.revise_sent_at or now, acknowledged_at=now, replaces=original)
        OrderEvent.objects.create(order=replacement, from_state="", to_state=State.ACCEPTED, code="revision",
                                  why=f"revision of order {original.pk} ({original.broker_order_no})"[:300],
                                  actor_label=actor_label(REVISER), at=now)
        audit_record(actor=REVISER, action="order.revised", owner=original.owner, target=replacement,
                     before={"order": original.pk, "price": None if original.price is None else _text(original.price)},
                     after={"order": replacement.pk, "price": _text(price), "quantity": _text(quantity),
                            "broker_order_no": order_no}, reason=why)
        events.publish(user_id=original.owner_id, event="order.accepted", payload=order_payload(replacement))
        original.cancelled_quantity = min(original.cancelled_quantity + quantity,
                                          original.quantity - original.filled_quantity)
        original.revise_price = original.revise_quantity = original.revise_requested_at = None
        original.revise_sent_at = None
        fields = ("cancelled_quantity", "revise_price", "revise_quantity", "revise_requested_at", "revise_sent_at")
        why = f"revised: {_text(quantity)} moved to order {replacement.pk} at {_text(price)}"
        if original.remaining_quantity <= 0:
            order_move(original, State.CANCELLED, actor=REVISER, code="revised", why=why, fields=fields, now=now)
        else:
            original.save(update_fields=[*fields, "updated_at"])
            order_note(original, actor=REVISER, code="revised", why=why, now=now)
            events.publish(user_id=original.owner_id, event=f"order.{original.state}",
                           payload=order_payload(original))
    return replacement


def replacement_adopt(original: Order, row: OrderRecord, now: dt.datetime) -> Order | None:
    """Reconciliation met ``row``, a stranger whose original number is ``original``'s: the revision
    whose answer was lost (or not yet recorded). Written as the replacement; None when ``original``
    has no revision on its way (then the row is someone else's: an HTS revision, adopted as external)."""
    if original.revise_sent_at is None or row.quantity <= 0:
        return None
    return _replaced(original.pk, order_no=row.order_no, org_no=row.org_no, quantity=row.quantity,
                     price=row.price, why="found in the broker's listing", now=now)


def revisions_waiting(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    """Revisions asked and not sent after ``older_than`` (a lost enqueue): the relay sends them."""
    return list(Order.objects.filter(state__in=REVISABLE, revise_sent_at=None,
                                     revise_requested_at__lt=(now or clock.now()) - older_than)
                .order_by("pk").values_list("pk", flat=True))


def order_revise_settle_absent(original: Order, row: OrderRecord, now: dt.datetime) -> None:
    """The listing shows ``original`` still open with everything the revision would have moved
    (and no replacement): the revision never reached the broker; the request is cleared."""
    from trading.orders.reconcile import not_placed_after

    if original.revise_sent_at is None or original.revise_sent_at > now - not_placed_after():
        return
    if row.remaining_quantity < (original.revise_quantity or Decimal(0)):
        return
    with transaction.atomic():
        order = _locked(original.pk)
        if order.revise_sent_at is None:
            return
        order.revise_price = order.revise_quantity = order.revise_requested_at = order.revise_sent_at = None
        order.save(update_fields=["revise_price", "revise_quantity", "revise_requested_at", "revise_sent_at",
                                  "updated_at"])
        order_note(order, actor=REVISER, code="revise_absent",
                   why="the broker's listing shows the order unchanged: the revision never reached it")


__all__ = ["order_revise_request", "order_revise_send", "order_revise_settle_absent", "replacement_adopt",
           "revisions_waiting"]
