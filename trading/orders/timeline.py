"""An order's timeline: every transition checked against the table, written as an ``OrderEvent``
and an audit row, and published as ``order.<state>`` on commit. Callers hold the order's row
(``select_for_update``) or have just claimed it, inside their transaction.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from core import clock, events
from core.audit import Actor, audit_record
from trading.orders.models import Order, OrderEvent
from trading.orders.states import CLOSED, State, check_transition


def actor_label(actor: Actor) -> str:
    return actor.label or str(actor.kind)


def order_payload(order: Order) -> dict[str, Any]:
    """What an order event carries (the live list updates from it)."""

    def text(value: Decimal | None) -> str | None:
        return None if value is None else f"{value.normalize():f}"

    return {"id": order.pk, "intent_id": str(order.intent_id), "account_id": order.account_id,
            "symbol": order.symbol, "side": str(order.side), "quantity": text(order.quantity),
            "price": text(order.price), "state": str(order.state), "filled_quantity": text(order.filled_quantity),
            "average_fill_price": text(order.average_fill_price), "broker_order_no": order.broker_order_no,
            "external": order.external, "reason": order.reject_reason}


def order_note(order: Order, *, actor: Actor, code: str, why: str, now: dt.datetime | None = None) -> None:
    """A timeline entry that changes no state (inside the caller's transaction)."""
    OrderEvent.objects.create(order=order, from_state=order.state, to_state=order.state, code=code, why=why[:300],
                              actor_label=actor_label(actor)[:150], at=now or clock.now())


def order_move(order: Order, target: State, *, actor: Actor, why: str = "", code: str = "",
               fields: tuple[str, ...] = (), now: dt.datetime | None = None) -> None:
    """Move ``order`` (locked or just claimed, inside a transaction) to ``target``: check the table,
    save ``fields`` with the state, write the timeline and audit rows, publish ``order.<target>``."""
    now = now or clock.now()
    before = order.state
    check_transition(before, target)
    order.state = target
    update = {"state", "updated_at", *fields}
    if target in CLOSED:
        order.closed_at = now
        update.add("closed_at")
    order.save(update_fields=sorted(update))
    OrderEvent.objects.create(order=order, from_state=before, to_state=target, code=code, why=why[:300],
                              actor_label=actor_label(actor)[:150], at=now)
    audit_record(actor=actor, action=f"order.{target}", owner=order.owner, target=order,
                 before={"state": before}, after={"state": str(target)}, reason=why)
    events.publish(user_id=order.owner_id, event=f"order.{target}", payload=order_payload(order))
