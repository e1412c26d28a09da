"""Reads of the paper book: one account's orders, fills, positions and cash.

The account is the scope (the caller has checked it is the user's: ``trading.selectors``); nothing
here reaches another account's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, QuerySet, Sum

from marketdata.calendars import KRX, SEOUL
from trading.brokers.base import Side
from trading.brokers.paper import PaperRefused
from trading.models import BrokerAccount
from trading.paper.matching import reserved_cash
from trading.paper.models import PaperBook, PaperFill, PaperOrder, PaperOrderStatus, PaperPosition

ZERO = Decimal(0)


def paper_book_get(*, account: BrokerAccount) -> PaperBook:
    """The book of a paper account; raises ``no_book`` for any other account."""
    try:
        return PaperBook.objects.get(account_id=account.pk)
    except PaperBook.DoesNotExist:
        raise PaperRefused("no_book") from None


def paper_order_list(*, account: BrokerAccount, day: dt.date | None = None,
                     open_only: bool = False) -> QuerySet[PaperOrder]:
    """Orders by order number: those placed on ``day`` (every day when None), or only the open ones."""
    orders = PaperOrder.objects.filter(book__account_id=account.pk)
    if day is not None:
        orders = orders.filter(order_day=day)
    if open_only:
        orders = orders.filter(status=PaperOrderStatus.OPEN)
    return orders.order_by("order_no")


def paper_fill_list(*, account: BrokerAccount, day: dt.date) -> QuerySet[PaperFill]:
    """Fills made on ``day`` (a Seoul date), by fill number, with their orders."""
    return (PaperFill.objects.filter(book__account_id=account.pk, trade_day=day)
            .select_related("order").order_by("fill_no"))


def paper_position_list(*, account: BrokerAccount) -> QuerySet[PaperPosition]:
    """Held positions (quantity above zero) by symbol."""
    return PaperPosition.objects.filter(book__account_id=account.pk, quantity__gt=0).order_by("symbol")


def sellable_quantity(book: PaperBook, symbol: str) -> Decimal:
    """Held quantity of ``symbol`` less what open sell orders already offer."""
    held = (PaperPosition.objects.filter(book=book, symbol=symbol).values_list("quantity", flat=True).first()) or ZERO
    offered = (book.orders.filter(status=PaperOrderStatus.OPEN, symbol=symbol, side=Side.SELL)
               .aggregate(total=Sum(F("quantity") - F("filled_quantity") - F("cancelled_quantity")))["total"])
    return held - (offered or ZERO)


@dataclass(frozen=True)
class CashState:
    """``cash`` counts every fill (the D+2 deposit); ``deposit`` is what has settled by today (D+0),
    ``settlement_d1`` by the next trading day; ``orderable`` is cash less open buys' reservations."""

    cash: Decimal
    reserved: Decimal
    orderable: Decimal
    deposit: Decimal
    settlement_d1: Decimal
    settlement_d2: Decimal


def _unsettled(book: PaperBook, after: dt.date) -> Decimal:
    total = book.fills.filter(settles_on__gt=after).aggregate(total=Sum("net_cash"))["total"]
    return total or ZERO


def paper_cash(*, account: BrokerAccount, now: dt.datetime) -> CashState:
    """The account's cash at ``now``, by settlement date."""
    book = paper_book_get(account=account)
    today = now.astimezone(SEOUL).date()
    reserved = reserved_cash(book)
    return CashState(
        cash=book.cash,
        reserved=reserved,
        orderable=max(book.cash - reserved, ZERO),
        deposit=book.cash - _unsettled(book, today),
        settlement_d1=book.cash - _unsettled(book, KRX.next_trading_day(today)),
        settlement_d2=book.cash,
    )
