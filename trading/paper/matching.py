"""Filling the paper book's orders against prices.

``paper_match(symbol, price)`` is called on every price update (the realtime feed);
``paper_match_all`` by the periodic task (``trading.paper.tasks.paper_match_open_orders``) with the
newest price of every symbol that has open orders. Each account's orders are matched in a
transaction of their own that locks the account's book row first, the same lock every order
placement takes, so a fill and a new order of one account never interleave.

The rules of a single match are pure (``trading.brokers.paper``); see its docstring for sessions,
auctions, the price a fill takes and the partial-fill cap.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum

from core import clock
from marketdata.calendars import SEOUL
from trading.brokers.base import OrderType, Side
from trading.brokers.paper import (
    DEFAULT_COMMISSION,
    DEFAULT_VOLUME_SHARE,
    InstrumentRules,
    PaperCosts,
    PaperRefused,
    Phase,
    affordable_quantity,
    fill_amounts,
    market_moment,
    match_price,
    round_money,
    volume_cap,
)
from trading.paper import prices
from trading.paper.models import PaperBook, PaperFill, PaperOrder, PaperOrderStatus, PaperPosition
from trading.paper.prices import PricePoint

logger = logging.getLogger("trading.paper")
ZERO = Decimal(0)


def paper_costs() -> PaperCosts:
    """Commission from ``PAPER_COMMISSION_RATE`` (default: the engine's 0.015 %), the dated sell tax."""
    return PaperCosts(commission=Decimal(str(getattr(settings, "PAPER_COMMISSION_RATE", DEFAULT_COMMISSION))))


def volume_share() -> Decimal:
    """The share of a price's volume one match may fill (``PAPER_MAX_FILL_VOLUME_SHARE``, default 10 %;
    0 turns the cap off)."""
    return Decimal(str(getattr(settings, "PAPER_MAX_FILL_VOLUME_SHARE", DEFAULT_VOLUME_SHARE)))


def reserved_cash(book: PaperBook) -> Decimal:
    """Cash held by the book's open buy orders."""
    total = book.orders.filter(status=PaperOrderStatus.OPEN).aggregate(total=Sum("reserved_cash"))["total"]
    return total or ZERO


def order_reservation(rules: InstrumentRules, costs: PaperCosts, order: PaperOrder) -> Decimal:
    """What the open part of ``order`` holds: buys price × quantity + commission, sells nothing."""
    if order.side != Side.BUY or not order.is_open or order.remaining <= 0:
        return ZERO
    return costs.buy_reservation(rules, order.remaining, order.reserve_price)


def close_order(order: PaperOrder, status: PaperOrderStatus, now: dt.datetime) -> None:
    """Close what is left of ``order`` (cancelled, expired or revised): nothing stays reserved."""
    order.cancelled_quantity += order.remaining
    order.status = status
    order.reserved_cash = ZERO
    order.closed_at = now
    order.save(update_fields=["cancelled_quantity", "status", "reserved_cash", "closed_at", "updated_at"])


def plan_fill(book: PaperBook, order: PaperOrder, rules: InstrumentRules, point: PricePoint, *,
              at_market_price: bool, costs: PaperCosts) -> tuple[Decimal | None, Decimal]:
    """(price, quantity) ``order`` would fill now against ``point``: capped by the price's volume
    and, for buys, by the cash the book can spend on it (its own reservation included)."""
    price = match_price(OrderType(order.order_type), Side(order.side), order.price, point.price,
                        at_market_price=at_market_price)
    if price is None:
        return None, ZERO
    quantity = order.remaining
    cap = volume_cap(rules, point.volume, volume_share())
    if cap is not None:
        quantity = min(quantity, cap)
    if order.side == Side.BUY:
        spendable = book.cash - (reserved_cash(book) - order.reserved_cash)
        quantity = min(quantity, affordable_quantity(rules, costs, spendable, price))
    return price, quantity


def apply_fill(book: PaperBook, order: PaperOrder, rules: InstrumentRules, quantity: Decimal, price: Decimal, *,
               point: PricePoint, now: dt.datetime, costs: PaperCosts) -> PaperFill:
    """Book one fill: cash, position (average cost, realised P&L), the order's totals and reservation."""
    trade_day = now.astimezone(SEOUL).date()
    side = Side(order.side)
    amounts = fill_amounts(rules, costs, side, quantity, price, trade_day)
    position, _ = PaperPosition.objects.get_or_create(book=book, symbol=order.symbol,
                                                      defaults={"market": rules.market})
    realized = None
    if side is Side.BUY:
        position.quantity += quantity
        position.cost += amounts.value
    else:
        removed = round_money(rules, position.cost * quantity / position.quantity)
        realized = amounts.value - amounts.commission - amounts.tax - removed
        position.quantity -= quantity
        position.cost = position.cost - removed if position.quantity else ZERO
        position.realized_pnl += realized
    position.save()
    book.cash += amounts.net_cash
    fill_no = f"{book.next_fill_no:010d}"
    book.next_fill_no += 1
    book.save(update_fields=["cash", "next_fill_no", "updated_at"])
    order.filled_quantity += quantity
    order.filled_amount += amounts.value
    order.commission += amounts.commission
    order.tax += amounts.tax
    if order.remaining <= 0:
        order.status, order.closed_at = PaperOrderStatus.FILLED, now
    order.reserved_cash = order_reservation(rules, costs, order)
    order.last_price_at, order.auction = point.at, False
    order.save()
    return PaperFill.objects.create(
        book=book, order=order, fill_no=fill_no, symbol=order.symbol, side=order.side, quantity=quantity,
        price=price, value=amounts.value, commission=amounts.commission, tax=amounts.tax,
        net_cash=amounts.net_cash, realized_pnl=realized, trade_day=trade_day, settles_on=amounts.settles_on,
        filled_at=now,
    )


def match_order(book: PaperBook, order: PaperOrder, rules: InstrumentRules, point: PricePoint, *,
                now: dt.datetime, arrival: bool = False) -> PaperFill | None:
    """Fill what ``order`` can against ``point`` (inside the caller's transaction, book locked)."""
    costs = paper_costs()
    price, quantity = plan_fill(book, order, rules, point, at_market_price=arrival or order.auction, costs=costs)
    if price is None or quantity <= 0:
        order.last_price_at, order.auction = point.at, False
        order.save(update_fields=["last_price_at", "auction", "updated_at"])
        return None
    return apply_fill(book, order, rules, quantity, price, point=point, now=now, costs=costs)


def _sees(order: PaperOrder, point: PricePoint) -> bool:
    """An auction prices an order with the newest price; otherwise only a newer price fills it."""
    return order.auction or order.last_price_at is None or point.at > order.last_price_at


def _match_book(book_id: int, symbol: str, rules: InstrumentRules, point: PricePoint | None,
                now: dt.datetime) -> list[PaperFill]:
    moment = market_moment(rules.market, now)
    fills: list[PaperFill] = []
    with transaction.atomic():
        book = PaperBook.objects.select_for_update().get(pk=book_id)
        for order in book.orders.filter(status=PaperOrderStatus.OPEN, symbol=symbol).order_by("order_no"):
            if not rules.is_crypto and order.order_day != moment.day:
                close_order(order, PaperOrderStatus.EXPIRED, now)
                continue
            if point is not None and _sees(order, point):
                fill = match_order(book, order, rules, point, now=now)
                if fill is not None:
                    fills.append(fill)
            if moment.phase is Phase.AFTER_CLOSE and order.is_open:
                close_order(order, PaperOrderStatus.EXPIRED, now)  # the closing auction was its last chance
    return fills


def _needs_a_visit(rules: InstrumentRules, day: dt.date, phase: Phase, point: PricePoint | None) -> Q:
    """Orders a match can change: so a book whose orders have all seen this price is not locked."""
    stale = Q() if rules.is_crypto else ~Q(order_day=day)
    if phase is Phase.AFTER_CLOSE:
        return Q(pk__isnull=False)  # the closing auction, then expiry
    if point is None:
        return stale if stale else Q(pk__isnull=True)
    sees = Q(auction=True) | Q(last_price_at__isnull=True) | Q(last_price_at__lt=point.at)
    return sees | stale if stale else sees


def match_symbol(symbol: str, point: PricePoint | None, *, now: dt.datetime) -> list[PaperFill]:
    """Match every account's open orders of ``symbol`` against ``point`` (None: no price, only
    expiry). Nothing fills outside continuous trading and the closing auction's match (the first
    after the close, after which the day's KRX orders expire)."""
    waiting = PaperOrder.objects.filter(status=PaperOrderStatus.OPEN, symbol=symbol)
    if not waiting.exists():
        return []  # most ticks: nobody has an order in this symbol
    try:
        rules = prices.instrument_rules(symbol)
    except PaperRefused:
        logger.warning("paper orders of %s wait: the symbol left the instrument master", symbol)
        return []
    moment = market_moment(rules.market, now)
    if moment.phase not in (Phase.CONTINUOUS, Phase.AFTER_CLOSE):
        point = None  # nothing fills; only earlier days' leftovers expire
    book_ids = sorted(set(waiting.filter(_needs_a_visit(rules, moment.day, moment.phase, point))
                          .values_list("book_id", flat=True)))
    fills: list[PaperFill] = []
    for book_id in book_ids:
        fills += _match_book(book_id, symbol, rules, point, now)
    return fills


def paper_match(symbol: str, price: Decimal | float | str, *, volume: Decimal | float | None = None,
                at: dt.datetime | None = None) -> list[PaperFill]:
    """A new price of ``symbol`` (a realtime tick): fill every paper order it reaches.

    ``volume`` is what traded at that price (caps the fill, see ``PAPER_MAX_FILL_VOLUME_SHARE``);
    ``at`` defaults to the trading clock's now. Returns the fills made.
    """
    now = clock.now()
    point = PricePoint(symbol, Decimal(str(price)), at or now, None if volume is None else Decimal(str(volume)),
                       source="tick")
    return match_symbol(symbol, point, now=now)


def paper_match_account(*, account_id: int, now: dt.datetime | None = None) -> list[PaperFill]:
    """Match one account's open orders only (a replay: ``trading.live.replay``), each symbol against
    its newest price at ``now``. Every other book is left alone, so a replayed past day never
    fills or expires anyone else's orders."""
    now = now or clock.now()
    book = PaperBook.objects.filter(account_id=account_id).first()
    if book is None:
        return []
    symbols = sorted(set(book.orders.filter(status=PaperOrderStatus.OPEN).values_list("symbol", flat=True)))
    fills: list[PaperFill] = []
    for symbol in symbols:
        try:
            rules = prices.instrument_rules(symbol)
        except PaperRefused:
            continue
        moment = market_moment(rules.market, now)
        point = prices.latest_price(symbol, now=now)
        if moment.phase not in (Phase.CONTINUOUS, Phase.AFTER_CLOSE):
            point = None
        fills += _match_book(book.pk, symbol, rules, point, now)
    return fills


def paper_match_all(*, now: dt.datetime | None = None) -> list[PaperFill]:
    """Match every symbol with open paper orders against its newest price (the periodic match)."""
    now = now or clock.now()
    symbols = sorted(set(PaperOrder.objects.filter(status=PaperOrderStatus.OPEN).values_list("symbol", flat=True)))
    fills: list[PaperFill] = []
    for symbol in symbols:
        fills += match_symbol(symbol, prices.latest_price(symbol, now=now), now=now)
    return fills
