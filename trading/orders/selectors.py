"""Reads of the order ledger, scoped to their owner once (another user's order is ``NotFound``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import NotFound
from marketdata.calendars import SEOUL
from trading.orders.models import Fill, Order, OrderEvent, Position
from trading.orders.states import OPEN, UNRESOLVED

MESSAGE_NOT_FOUND = _("No such order.")


def order_list(*, user: Any, account_id: int | None = None, states: list[str] | None = None,
               symbol: str = "", day: dt.date | None = None) -> QuerySet[Order]:
    """The user's orders, newest first, optionally of one account, states, symbol or Seoul day."""
    orders = Order.objects.filter(owner=user).select_related("account")
    if account_id is not None:
        orders = orders.filter(account_id=account_id)
    if states:
        orders = orders.filter(state__in=states)
    if symbol:
        orders = orders.filter(symbol=symbol)
    if day is not None:
        start = dt.datetime.combine(day, dt.time(0), SEOUL)
        orders = orders.filter(created_at__gte=start, created_at__lt=start + dt.timedelta(days=1))
    return orders.order_by("-created_at", "-id")


def order_get(*, user: Any, pk: int) -> Order:
    """The user's order ``pk``; raises ``NotFound`` for anyone else's."""
    order = Order.objects.filter(owner=user, pk=pk).select_related("account").first()
    if order is None:
        raise NotFound(str(MESSAGE_NOT_FOUND))
    return order


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # "event" | "fill"
    event: OrderEvent | None = None
    fill: Fill | None = None


def order_timeline(*, order: Order) -> list[TimelineEntry]:
    """Every transition and fill of ``order``, oldest first (two queries)."""
    entries = [TimelineEntry(e.at, "event", event=e) for e in order.events.all()]
    entries += [TimelineEntry(f.filled_at, "fill", fill=f) for f in order.fills.all()]
    return sorted(entries, key=lambda e: (e.at, e.kind == "event"))


def position_list(*, user: Any, account_id: int | None = None, held_only: bool = True) -> QuerySet[Position]:
    positions = Position.objects.filter(account__owner=user).select_related("account")
    if account_id is not None:
        positions = positions.filter(account_id=account_id)
    if held_only:
        positions = positions.exclude(quantity=Decimal(0), mismatch=False)
    return positions.order_by("account_id", "symbol")


def fill_list(*, user: Any, account_id: int | None = None, start: dt.date | None = None,
              end: dt.date | None = None) -> QuerySet[Fill]:
    """The user's fills, newest first, between two Seoul dates (inclusive)."""
    fills = Fill.objects.filter(order__owner=user).select_related("order", "account")
    if account_id is not None:
        fills = fills.filter(account_id=account_id)
    if start is not None:
        fills = fills.filter(filled_at__gte=dt.datetime.combine(start, dt.time(0), SEOUL))
    if end is not None:
        fills = fills.filter(filled_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), SEOUL))
    return fills.order_by("-filled_at", "-id")


def open_orders(*, account_id: int, symbol: str = "", side: str = "") -> QuerySet[Order]:
    """Orders of an account that may still trade or are not resolved (the pre-trade checks count
    them: buying power, sellable quantity, a new order after an ``unknown`` one)."""
    orders = Order.objects.filter(account_id=account_id, state__in=OPEN | UNRESOLVED | {"new"})
    if symbol:
        orders = orders.filter(symbol=symbol)
    if side:
        orders = orders.filter(side=side)
    return orders
