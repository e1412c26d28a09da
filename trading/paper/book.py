"""Writes of the paper book: open a book, place, revise and cancel orders, expire the day's leftovers.

Every write runs in one transaction that first locks the account's ``PaperBook`` row
(``select_for_update``: a row lock on PostgreSQL; SQLite's IMMEDIATE transactions take the write
lock at BEGIN), and checks cash and holdings only after that lock: two processes placing orders
at once are serialised and never overspend. Prices, the instrument master and the pure checks are
read before the transaction, so it stays short.

A refusal is a ``PaperRefused`` (a ``trading.brokers.base.Refused``) whose message is in the
active language. ``paper_match`` (a price update) and ``paper_match_all`` (the periodic match)
live in ``trading.paper.matching`` and are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext

from marketdata.calendars import CRYPTO_MARKETS, SEOUL
from trading import risk
from trading.brokers.base import OrderRequest, OrderType, Side
from trading.brokers.paper import (
    InstrumentRules,
    MarketMoment,
    PaperRefused,
    Phase,
    check_cash,
    check_limit_price,
    check_min_order_value,
    check_quantity,
    check_sellable,
    check_session,
    price_limits,
)
from trading.models import BrokerAccount
from trading.paper import prices
from trading.paper.matching import (
    close_order,
    match_order,
    order_reservation,
    paper_costs,
    paper_match,
    paper_match_all,
    plan_fill,
    reserved_cash,
)
from trading.paper.models import PaperBook, PaperOrder, PaperOrderStatus
from trading.paper.prices import PricePoint
from trading.paper.selectors import sellable_quantity

__all__ = [
    "paper_book_close", "paper_book_expire_stale", "paper_book_open", "paper_match", "paper_match_all",
    "paper_order_cancel", "paper_order_place", "paper_order_revise",
]
ZERO = Decimal(0)
_IMMEDIATE = (OrderType.IOC_LIMIT, OrderType.FOK_LIMIT, OrderType.IOC_MARKET, OrderType.FOK_MARKET)
_ALL_OR_NOTHING = (OrderType.FOK_LIMIT, OrderType.FOK_MARKET)


@contextmanager
def localized_refusals() -> Iterator[None]:
    """Re-raise a ``PaperRefused`` with its message in the active language."""
    try:
        yield
    except PaperRefused as error:
        raise error.localized(gettext) from None


def paper_book_open(*, account: BrokerAccount, cash: Decimal | int) -> PaperBook:
    """Create the book of a new paper account with ``cash`` KRW (inside the caller's transaction)."""
    cash = Decimal(cash)
    return PaperBook.objects.create(account=account, initial_cash=cash, cash=cash)


def paper_book_close(*, account: BrokerAccount) -> None:
    """Delete the account's book, orders, fills and positions (deleting the account does this too)."""
    PaperBook.objects.filter(account_id=account.pk).delete()


def _lock(account: BrokerAccount) -> PaperBook:
    try:
        return PaperBook.objects.select_for_update().get(account_id=account.pk)
    except PaperBook.DoesNotExist:
        raise PaperRefused("no_book") from None


def _expire_stale(book: PaperBook, now: dt.datetime) -> int:
    """Expire KRX orders of earlier days still open (their day ended without a closing match)."""
    today = now.astimezone(SEOUL).date()
    stale = list(book.orders.filter(status=PaperOrderStatus.OPEN, order_day__lt=today)
                 .exclude(market__in=CRYPTO_MARKETS))
    for order in stale:
        close_order(order, PaperOrderStatus.EXPIRED, now)
    return len(stale)


def paper_book_expire_stale(*, account: BrokerAccount, now: dt.datetime) -> int:
    """Expire the account's leftover KRX orders of earlier days; a cheap read when there are none."""
    today = now.astimezone(SEOUL).date()
    if not (PaperOrder.objects.filter(book__account_id=account.pk, status=PaperOrderStatus.OPEN, order_day__lt=today)
            .exclude(market__in=CRYPTO_MARKETS).exists()):
        return 0
    with transaction.atomic():
        return _expire_stale(_lock(account), now)


@dataclass(frozen=True)
class _Checked:
    """An order that passed every check that needs no lock."""

    rules: InstrumentRules
    moment: MarketMoment
    point: PricePoint
    side: Side
    order_type: OrderType
    price: Decimal | None
    reserve_price: Decimal


def _decimal(value: Decimal | float | str | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _check(symbol: str, side: Side, quantity: Decimal, order_type: OrderType, price: Decimal | None,
           now: dt.datetime) -> _Checked:
    price = _decimal(price)
    rules = prices.instrument_rules(symbol)
    risk.refuse_first(risk.instrument_failures(symbol, rules), PaperRefused)  # delisted, suspended
    check_quantity(rules, quantity)
    moment = check_session(rules, order_type, now)
    point = prices.latest_price(symbol, now=now)
    if point is None:
        raise PaperRefused("no_price", symbol=symbol)
    if order_type.needs_price:
        check_limit_price(rules, price, point.previous_close)
        reserve = price
    else:
        price = None
        limits = price_limits(rules, point.previous_close)
        reserve = limits[1] if limits else point.price
    assert reserve is not None
    check_min_order_value(rules, quantity, price or point.price)
    return _Checked(rules, moment, point, side, order_type, price, reserve)


def _check_holdings(book: PaperBook, checked: _Checked, quantity: Decimal) -> None:
    """Enough orderable cash for a buy (cash less open buys' reservations), holdings for a sell."""
    if checked.side is Side.BUY:
        needed = paper_costs().buy_reservation(checked.rules, quantity, checked.reserve_price)
        check_cash(needed, book.cash - reserved_cash(book))
    else:
        check_sellable(checked.rules, quantity, sellable_quantity(book, checked.rules.symbol))


def _create(book: PaperBook, checked: _Checked, quantity: Decimal, now: dt.datetime, *,
            original_order_no: str = "") -> PaperOrder:
    order_no = f"{book.next_order_no:010d}"
    book.next_order_no += 1
    book.save(update_fields=["next_order_no", "updated_at"])
    order = PaperOrder(
        book=book, order_no=order_no, original_order_no=original_order_no, symbol=checked.rules.symbol,
        market=checked.rules.market, side=checked.side, order_type=checked.order_type, quantity=quantity,
        price=checked.price, reserve_price=checked.reserve_price, auction=checked.moment.phase.is_auction,
        order_day=checked.moment.day, placed_at=now,
    )
    order.reserved_cash = order_reservation(checked.rules, paper_costs(), order)
    order.save()
    return order


def _on_arrival(book: PaperBook, order: PaperOrder, checked: _Checked, now: dt.datetime) -> None:
    """Continuous trading fills a new order at once as far as it crosses; IOC/FOK drop the rest."""
    if checked.moment.phase is not Phase.CONTINUOUS:
        return
    if checked.order_type in _ALL_OR_NOTHING:
        _, quantity = plan_fill(book, order, checked.rules, checked.point, at_market_price=True, costs=paper_costs())
        if quantity < order.remaining:
            close_order(order, PaperOrderStatus.CANCELLED, now)
            return
    match_order(book, order, checked.rules, checked.point, now=now, arrival=True)
    if checked.order_type in _IMMEDIATE and order.is_open:
        close_order(order, PaperOrderStatus.CANCELLED, now)


def paper_order_place(*, account: BrokerAccount, order: OrderRequest, now: dt.datetime) -> PaperOrder:
    """Place ``order`` in the account's book; in continuous trading it fills at once as far as it can.

    Raises ``PaperRefused`` (codes in ``trading.brokers.paper.MESSAGES``) when KRX would refuse it
    or the account lacks the cash or the holdings.
    """
    with localized_refusals():
        side, order_type = Side(order.side), OrderType(order.order_type)
        quantity = Decimal(str(order.quantity))
        checked = _check(order.symbol, side, quantity, order_type, order.price, now)
        with transaction.atomic():
            book = _lock(account)
            _expire_stale(book, now)
            _check_holdings(book, checked, quantity)
            created = _create(book, checked, quantity, now)
            _on_arrival(book, created, checked, now)
            return created


def _open_order(book: PaperBook, order_no: str) -> PaperOrder:
    return _checked_open(book.orders.filter(order_no=order_no).first(), order_no)


def _checked_open(order: PaperOrder | None, order_no: str) -> PaperOrder:
    if order is None:
        raise PaperRefused("unknown_order", order_no=order_no)
    if not order.is_open:
        raise PaperRefused("order_closed", order_no=order_no, status=str(order.get_status_display()).lower())
    return order


def _part(order: PaperOrder, rules: InstrumentRules, quantity: Decimal | None) -> Decimal:
    """The part of the open ``order`` a change covers (None: all that is open)."""
    part = order.remaining if quantity is None else Decimal(str(quantity))
    check_quantity(rules, part)
    if part > order.remaining:
        raise PaperRefused("bad_revision", order_no=order.order_no, remaining=f"{order.remaining.normalize():,f}")
    return part


def _take_part(order: PaperOrder, rules: InstrumentRules, part: Decimal, status: PaperOrderStatus,
               now: dt.datetime) -> None:
    """Take ``part`` off the open ``order``: all of it closes the order with ``status``."""
    if part == order.remaining:
        close_order(order, status, now)
        return
    order.cancelled_quantity += part
    order.reserved_cash = order_reservation(rules, paper_costs(), order)
    order.save(update_fields=["cancelled_quantity", "reserved_cash", "updated_at"])


def paper_order_revise(*, account: BrokerAccount, order_no: str, quantity: Decimal | None, price: Decimal | None,
                       order_type: OrderType = OrderType.LIMIT, now: dt.datetime) -> PaperOrder:
    """Move ``quantity`` (None: all that is open) of an open order to a new order at ``price``.

    Like KIS, the revision is a new order with its own number (``original_order_no`` names the old
    one); the old order keeps its fills and closes as ``revised`` when nothing is left. The new
    order is checked like any other (session, tick, limits, cash). Returns the new order.
    """
    with localized_refusals():
        found = _checked_open(PaperOrder.objects.filter(book__account_id=account.pk, order_no=order_no).first(),
                              order_no)
        quantity = _decimal(quantity)
        planned = found.remaining if quantity is None else quantity
        checked = _check(found.symbol, Side(found.side), planned, OrderType(order_type), price, now)
        with transaction.atomic():
            book = _lock(account)
            _expire_stale(book, now)
            original = _open_order(book, order_no)
            part = _part(original, checked.rules, quantity)
            # the part leaves the old order first: its cash or shares count for the revision
            _take_part(original, checked.rules, part, PaperOrderStatus.REVISED, now)
            _check_holdings(book, checked, part)
            revision = _create(book, checked, part, now, original_order_no=original.order_no)
            _on_arrival(book, revision, checked, now)
            return revision


def paper_order_cancel(*, account: BrokerAccount, order_no: str, quantity: Decimal | None = None,
                       now: dt.datetime) -> PaperOrder:
    """Cancel ``quantity`` (None: all that is open) of an open order; its reserved cash is freed.
    Open orders can be cancelled at any time (they only exist while their day lasts on KRX)."""
    with localized_refusals(), transaction.atomic():
        book = _lock(account)
        _expire_stale(book, now)
        order = _open_order(book, order_no)
        rules = prices.instrument_rules(order.symbol)
        _take_part(order, rules, _part(order, rules, quantity), PaperOrderStatus.CANCELLED, now)
        return order
