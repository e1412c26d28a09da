"""Fills booked into their order and position, and positions checked against the broker's balance.

``order_fill_record`` counts what a broker report adds (``trading.orders.fills``: once, never past
the order's quantity, before or after the acknowledgement) and updates the order (fills, average
price, state) and its position in one transaction, both rows locked.

A fill's commission and tax are the broker's when it reports them; otherwise they are estimated
with the paper broker's cost helpers (``trading.brokers.paper``: the commission of
``PAPER_COMMISSION_RATE``, the dated sell tax of the backtest engine's cost model) and the fill says
``costs_estimated``.

Against the balance (``positions_check``): the quantity must be equal; the broker's average price
is kept beside ours and a difference over 1 KRW is noted. The first reconciliation of an account
adopts what it already held before the ledger knew it (``opening_quantity``); after that a
difference is a **mismatch**: raised to the user (``position.mismatch``) and to the admins (log),
and the pre-trade checks refuse to trade that symbol until it is resolved.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction

from core import clock, events
from core.audit import Actor, audit_record
from marketdata.calendars import SEOUL
from trading.brokers.base import Balance, Side
from trading.brokers.paper import InstrumentRules, PaperRefused, fill_amounts
from trading.orders.fills import PRICE_UNIT, FillReport, Holding, fill_increment, holding_after_fill
from trading.orders.models import Fill, FillSource, Order, Position
from trading.orders.states import State, state_after_fill
from trading.orders.timeline import order_move, order_note, order_payload

logger = logging.getLogger("trading.orders")
ZERO = Decimal(0)
AVERAGE_TOLERANCE = Decimal(1)  # KRW: a larger difference of average prices is noted
OVERFILL_FLAG = "the broker reported more filled than the order's quantity"


@dataclass(frozen=True)
class FillCosts:
    value: Decimal
    commission: Decimal
    tax: Decimal
    estimated: bool


def cost_rules(symbol: str) -> InstrumentRules:
    """The instrument rules a fill's costs are estimated by."""
    from trading.paper.prices import instrument_rules

    try:
        return instrument_rules(symbol)
    except PaperRefused:  # not in the instrument master: a KRX stock as far as costs go
        return InstrumentRules(symbol=symbol, market="KOSPI")


def fill_costs(order: Order, quantity: Decimal, price: Decimal, report: FillReport, now: dt.datetime,
               rules: InstrumentRules | None = None) -> FillCosts:
    """Value, commission and tax of one fill: the broker's figures when reported, else estimated.
    ``rules``: the symbol's, when the caller has them (else read from the instrument master)."""
    from trading.paper.matching import paper_costs

    rules = rules or cost_rules(order.symbol)
    amounts = fill_amounts(rules, paper_costs(), Side(order.side), quantity, price, now.astimezone(SEOUL).date())
    if report.commission is not None and report.tax is not None:
        return FillCosts(amounts.value, report.commission, report.tax, False)
    return FillCosts(amounts.value, amounts.commission, amounts.tax, True)


def _holding(position: Position) -> Holding:
    return Holding(quantity=position.quantity, cost=position.cost, realized_pnl=position.realized_pnl,
                   commission=position.commission, tax=position.tax)


def position_apply_fill(fill: Fill) -> Position:
    """Add ``fill`` to its position (row locked; inside the fill's transaction)."""
    return positions_apply_fills([fill])[0]


def positions_apply_fills(fills: list[Fill]) -> list[Position]:
    """Add ``fills`` to their positions in their order (inside the fills' transaction): each
    (account, symbol) row is locked, updated in memory fill by fill and saved once."""
    by_position: dict[tuple[int, str], list[Fill]] = {}
    for fill in fills:
        by_position.setdefault((fill.account_id, fill.symbol), []).append(fill)
    updated = []
    for (account_id, symbol), held in by_position.items():
        Position.objects.get_or_create(account_id=account_id, symbol=symbol)
        position = Position.objects.select_for_update().get(account_id=account_id, symbol=symbol)
        after = _holding(position)
        for fill in held:
            after = holding_after_fill(after, buy=fill.side == Side.BUY, quantity=fill.quantity, price=fill.price,
                                       commission=fill.commission, tax=fill.tax)
        position.quantity, position.cost, position.realized_pnl = after.quantity, after.cost, after.realized_pnl
        position.commission, position.tax = after.commission, after.tax
        position.save(update_fields=["quantity", "cost", "realized_pnl", "commission", "tax", "updated_at"])
        updated.append(position)
    return updated


# -- booking a fill ------------------------------------------------------------------------------
def order_fill_record(*, order_id: int, report: FillReport, source: str = FillSource.LISTING,
                      actor: Actor | None = None) -> Fill | None:
    """Count what ``report`` adds to the order (``trading.orders.fills``) and update the order and
    its position in one transaction (both rows locked). The new fill, or None when the report adds
    nothing (a duplicate, a replay, an older report, a quantity past the order's)."""
    actor = actor or Actor.system("fills")
    now = clock.now()
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("owner").get(pk=order_id)
        prepared = fill_prepare(order, report, source=source, now=now)
        if prepared is None:
            if report.cumulative_quantity > order.quantity and not order.flag:
                order.flag = OVERFILL_FLAG
                order.save(update_fields=["flag", "updated_at"])
            return None
        fill, capped = prepared
        try:
            with transaction.atomic():
                fill.save(force_insert=True)
        except IntegrityError:  # the same key counted already (a racing report)
            return None
        _apply_fill(order, fill, capped, report.order_no, actor=actor, now=now)
        position_apply_fill(fill)
    return fill


def fill_prepare(order: Order, report: FillReport, *, source: str, now: dt.datetime,
                 rules: InstrumentRules | None = None) -> tuple[Fill, bool] | None:
    """The fill ``report`` adds to ``order`` (locked by the caller, or created in its transaction),
    unsaved, and whether the report claimed more than the order's quantity; None when it adds
    nothing. ``rules``: the symbol's, when the caller has them."""
    increment = fill_increment(order_quantity=order.quantity, known_quantity=order.filled_quantity,
                               known_amount=order.filled_amount, report=report)
    if increment is None:
        return None
    costs = fill_costs(order, increment.quantity, increment.price, report, now, rules)
    fill = Fill(order=order, account_id=order.account_id, fill_key=increment.key, symbol=order.symbol,
                side=order.side, quantity=increment.quantity, price=increment.price, value=costs.value,
                commission=costs.commission, tax=costs.tax, costs_estimated=costs.estimated,
                cumulative_quantity=increment.cumulative_quantity, source=source, filled_at=now)
    return fill, increment.capped


def fill_counted(order: Order, fill: Fill, capped: bool, order_no: str) -> tuple[list[str], State, str]:
    """Add ``fill`` to ``order``'s fields in memory: the fields changed, the state the order moves
    to and why (the timeline's words)."""
    order.filled_quantity += fill.quantity
    order.filled_amount += fill.value
    order.average_fill_price = (order.filled_amount / order.filled_quantity).quantize(PRICE_UNIT)
    fields = ["filled_quantity", "filled_amount", "average_fill_price"]
    if order.state in (State.CANCELLED, State.EXPIRED):  # a fill that raced the cancel or the close
        order.cancelled_quantity = order.quantity - order.filled_quantity
        fields.append("cancelled_quantity")
    if not order.broker_order_no and order_no:  # a fill reported before the acknowledgement
        order.broker_order_no = order_no
        fields.append("broker_order_no")
    if capped:
        order.flag = OVERFILL_FLAG
        fields.append("flag")
    target = state_after_fill(order.state, filled=order.filled_quantity, quantity=order.quantity)
    return fields, target, f"filled {fill.quantity.normalize():f} at {fill.price.normalize():f}"


def _apply_fill(order: Order, fill: Fill, capped: bool, order_no: str, *, actor: Actor, now: dt.datetime) -> None:
    fields, target, why = fill_counted(order, fill, capped, order_no)
    if target != order.state:
        order_move(order, target, actor=actor, code="fill", why=why, fields=tuple(fields), now=now)
        return
    order.save(update_fields=[*fields, "updated_at"])
    order_note(order, actor=actor, code="fill", why=why, now=now)
    events.publish(user_id=order.owner_id, event="order.fill", payload=order_payload(order))


# -- against the broker's balance ------------------------------------------------------------------
def _adopt_opening(position: Position, quantity: Decimal, average: Decimal, actor: Actor, owner) -> None:
    """Take what the broker holds beyond our fills as held before the ledger (first check only)."""
    extra = quantity - position.quantity
    if extra <= 0:  # the ledger counts more than the broker holds: a mismatch, not an opening
        return
    total_cost = (average * quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    position.opening_quantity += extra
    position.quantity = quantity
    position.cost = total_cost if quantity > 0 else ZERO
    audit_record(actor=actor, action="position.opening", owner=owner, target=position,
                 after={"symbol": position.symbol, "quantity": f"{extra.normalize():f}",
                        "average_price": f"{average.normalize():f}"},
                 reason="held at the broker before the ledger knew the account")


def _compare(position: Position, broker_quantity: Decimal) -> str:
    if position.quantity != broker_quantity:
        return (f"the broker holds {broker_quantity.normalize():f}, "
                f"the ledger counts {position.quantity.normalize():f}")
    return ""


def positions_check(*, account, balance: Balance, first: bool, actor: Actor, now: dt.datetime) -> int:
    """Compare every position of ``account`` with ``balance`` (inside the caller's transaction);
    the number of mismatched positions."""
    held = {p.symbol: p for p in balance.positions}
    symbols = set(held) | set(Position.objects.filter(account=account).exclude(quantity=0, mismatch=False)
                              .values_list("symbol", flat=True))
    mismatched = 0
    for symbol in sorted(symbols):
        Position.objects.get_or_create(account=account, symbol=symbol)
        position = Position.objects.select_for_update().get(account=account, symbol=symbol)
        record = held.get(symbol)
        quantity = record.quantity if record else ZERO
        average = record.average_price if record else ZERO
        if first:
            _adopt_opening(position, quantity, average, actor, account.owner)
        note = _compare(position, quantity)
        if not note and record and abs(position.average_cost - average) > AVERAGE_TOLERANCE:
            logger.info("account %s %s: average price %s here, %s at the broker", account.pk, symbol,
                        position.average_cost, average)
        _mark(position, note, account, actor)
        position.broker_quantity, position.broker_average_price, position.broker_checked_at = quantity, average, now
        position.save()
        mismatched += bool(note)
    return mismatched


def _mark(position: Position, note: str, account, actor: Actor) -> None:
    was = position.mismatch
    position.mismatch, position.mismatch_note = bool(note), note[:300]
    if was == position.mismatch:
        return
    event = "position.mismatch" if note else "position.matched"
    if note:
        logger.warning("account %s %s: position mismatch: %s", account.pk, position.symbol, note)
    audit_record(actor=actor, action=event, owner=account.owner, target=position, before={"mismatch": was},
                 after={"mismatch": position.mismatch}, reason=note)
    events.publish(user_id=account.owner_id, event=event, payload={
        "account_id": account.pk, "symbol": position.symbol, "note": note,
        "quantity": f"{position.quantity.normalize():f}"})


def position_has_mismatch(*, account_id: int, symbol: str) -> bool:
    """True while the ledger and the broker disagree on ``symbol``: the pre-trade checks refuse it."""
    return Position.objects.filter(account_id=account_id, symbol=symbol, mismatch=True).exists()


__all__ = ["cost_rules", "fill_costs", "fill_counted", "fill_prepare", "order_fill_record", "position_apply_fill",
           "position_has_mismatch", "positions_apply_fills", "positions_check"]
