"""Resolving a position that differs from the broker's.

Reconciliation raises a mismatch when the broker holds another quantity than the ledger's fills
add up to, and the pre-trade checks then refuse every order of that symbol in that account. Most
mismatches clear themselves (an outside order adopted, a late fill counted). Some never do: shares
moved in or out of the account, a split or a merger, a correction at the broker. Then the owner (or
an admin for them) accepts the broker's figures: the difference is booked as an adjustment of what
the account held beside the ledger's fills (``opening_quantity``), at the broker's average price,
audited with who and why; realised P&L is not touched.

It is refused while an order of that symbol in that account is still unresolved (its fills may be
the difference) and when the broker's figures are not known.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core import clock, events
from core.audit import Actor, audit_record
from core.errors import ApplicationError, NotFound
from trading.orders.models import Order, Position
from trading.orders.states import UNRESOLVED

MESSAGE_NOT_FOUND = _("No such position.")
MESSAGE_NO_MISMATCH = _("This position agrees with the broker's; there is nothing to resolve.")
MESSAGE_UNRESOLVED = _("An order for {symbol} in this account is still being checked with the broker; its fills may "
                       "be the difference. Try again once it is settled.")
MESSAGE_REASON = _("Say why the broker's figures are right (for example: shares moved in from another account).")
ZERO = Decimal(0)


def position_resolve(*, actor: Actor, position: Position, reason: str) -> Position:
    """Accept the broker's quantity and average price for a mismatched ``position``.
    A user reaches only their own positions (``NotFound``). Raises ``ApplicationError``."""
    if actor.kind == "user" and actor.user_id != position.account.owner_id:
        raise NotFound(str(MESSAGE_NOT_FOUND))
    if not reason.strip():
        raise ApplicationError(str(MESSAGE_REASON), field="reason", code="reason_required")
    with transaction.atomic():
        position = Position.objects.select_for_update().select_related("account__owner").get(pk=position.pk)
        if not position.mismatch or position.broker_quantity is None:
            raise ApplicationError(str(MESSAGE_NO_MISMATCH), code="no_mismatch")
        if Order.objects.filter(account_id=position.account_id, symbol=position.symbol,
                                state__in=UNRESOLVED).exists():
            raise ApplicationError(str(MESSAGE_UNRESOLVED).format(symbol=position.symbol), code="unresolved_order")
        before = {"quantity": _text(position.quantity), "cost": _text(position.cost)}
        quantity = position.broker_quantity
        average = position.broker_average_price or position.average_cost
        position.opening_quantity += quantity - position.quantity
        position.quantity = quantity
        position.cost = (average * quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if quantity > 0 \
            else ZERO
        position.mismatch, position.mismatch_note = False, ""
        position.save()
        owner = position.account.owner
        audit_record(actor=actor, action="position.resolve", owner=owner, target=position, before=before,
                     after={"quantity": _text(position.quantity), "cost": _text(position.cost)},
                     reason=reason.strip()[:500])
        events.publish(user_id=owner.pk, event="position.matched", payload={
            "account_id": position.account_id, "symbol": position.symbol, "note": "",
            "quantity": _text(position.quantity), "resolved_at": clock.now().isoformat()})
    return position


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"


__all__ = ["position_resolve"]
