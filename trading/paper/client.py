"""``PaperClient``: the ``BrokerClient`` protocol over the paper book, so the platform treats a paper
account exactly like a KIS or Kiwoom one.

Differences a caller may notice (the rest is the protocol's contract):

- order numbers are per account, ten digits (``0000000001``), ``org_no`` is empty;
- a revision is a new order with its own number (as on KIS); a cancellation keeps the order's
  number (its ack carries it);
- there is no token: ``ensure_token`` and ``revoke_token`` do nothing;
- "now" is the injected ``clock`` (``core.clock.timestamp``), so tests can run a day in seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from core import clock as trading_clock
from marketdata.calendars import KRX, SEOUL
from marketdata.models import Instrument
from marketdata.selectors import instrument_bars
from trading.brokers.base import (
    Balance,
    Broker,
    BuyingPower,
    DailyBar,
    Environment,
    FillRecord,
    MarketDay,
    OrderAck,
    OrderRecord,
    OrderRequest,
    OrderType,
    PositionRecord,
    Quote,
    Side,
)
from trading.brokers.paper import PaperRefused, affordable_quantity, price_limits, round_money, tick_of
from trading.models import BrokerAccount
from trading.paper import book, prices, selectors
from trading.paper.matching import paper_costs
from trading.paper.models import PaperFill, PaperOrder, PaperOrderStatus, PaperPosition

ZERO = Decimal(0)
MARKET_DAYS_AHEAD = 31  # days ``market_days`` lists (KIS chk-holiday answers about a month)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _localized(method: _Method) -> _Method:
    """Refusals leave the client in the active language."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with book.localized_refusals():
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _hhmmss(moment: dt.datetime) -> str:
    return moment.astimezone(SEOUL).strftime("%H%M%S")


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value))).normalize()


def _order_record(order: PaperOrder) -> OrderRecord:
    closed = order.status in (PaperOrderStatus.CANCELLED, PaperOrderStatus.EXPIRED, PaperOrderStatus.REVISED)
    return OrderRecord(
        order_no=order.order_no, symbol=order.symbol, side=Side(order.side), quantity=order.quantity.normalize(),
        price=(order.price or ZERO).normalize(), filled_quantity=order.filled_quantity.normalize(),
        remaining_quantity=(order.remaining if order.is_open else ZERO).normalize(),
        average_price=order.average_price, filled_amount=order.filled_amount, original_order_no=order.original_order_no,
        order_type_code=order.order_type, ordered_at=_hhmmss(order.placed_at), order_day=order.order_day,
        cancelled=closed,
    )


def _fill_records(fills: list[PaperFill]) -> list[FillRecord]:
    cumulative: dict[int, Decimal] = defaultdict(Decimal)
    records = []
    for fill in fills:
        cumulative[fill.order_id] += fill.quantity
        records.append(FillRecord(
            order_no=fill.order.order_no, symbol=fill.symbol, side=Side(fill.side), quantity=fill.quantity.normalize(),
            price=fill.price.normalize(), cumulative_quantity=cumulative[fill.order_id].normalize(),
            filled_at=_hhmmss(fill.filled_at), fill_no=fill.fill_no, commission=fill.commission, tax=fill.tax,
        ))
    return records


class PaperClient:
    """One paper account (a ``BrokerAccount`` with ``broker="paper"``) as a broker client."""

    broker = Broker.PAPER
    environment = Environment.MOCK

    def __init__(self, account: BrokerAccount, *, clock: Callable[[], float] = trading_clock.timestamp) -> None:
        self.account = account
        self.clock = clock

    def __repr__(self) -> str:
        return f"PaperClient(account={self.account.pk})"

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC)

    def _expire(self) -> dt.datetime:
        now = self._now()
        book.paper_book_expire_stale(account=self.account, now=now)
        return now

    # -- no token ------------------------------------------------------------------------------
    def ensure_token(self) -> None:
        """Paper needs no token."""

    def revoke_token(self) -> None:
        """Paper has no token to revoke."""

    # -- market data ---------------------------------------------------------------------------
    @_localized
    def quote(self, symbol: str) -> Quote:
        """The newest price the platform has, with KRX's daily limits and the tick at that price."""
        now = self._now()
        rules = prices.instrument_rules(symbol)
        point = prices.latest_price(symbol, now=now)
        if point is None:
            raise PaperRefused("no_price", symbol=symbol)
        limits = price_limits(rules, point.previous_close)
        name = Instrument.objects.filter(code=symbol).values_list("name", flat=True).first() or ""
        return Quote(
            symbol=symbol, price=point.price, previous_close=point.previous_close,
            lower_limit=limits[0] if limits else None, upper_limit=limits[1] if limits else None,
            tick=tick_of(rules, point.price), volume=int(point.volume) if point.volume is not None else None,
            name=name, halted=rules.halted,
        )

    @_localized
    def daily_bars(self, symbol: str, start: dt.date, end: dt.date) -> list[DailyBar]:
        """Bars of the platform's bar store, oldest first."""
        bars = instrument_bars(code=symbol, start=start, end=end)
        days = bars.date.astype("datetime64[D]").astype(dt.date)
        return [
            DailyBar(day=days[i], open=_decimal(bars.open[i]), high=_decimal(bars.high[i]), low=_decimal(bars.low[i]),
                     close=_decimal(bars.close[i]), volume=int(bars.volume[i]),
                     value=None if bars.value[i] != bars.value[i] else _decimal(bars.value[i]))
            for i in range(len(bars))
        ]

    def market_days(self, day: dt.date) -> list[MarketDay]:
        """KRX days from ``day`` on (a month), from the platform's calendar."""
        found = []
        for offset in range(MARKET_DAYS_AHEAD):
            current = day + dt.timedelta(days=offset)
            trading = KRX.is_trading_day(current)
            found.append(MarketDay(day=current, business_day=current.weekday() < 5, trading_day=trading,
                                   open_day=trading, settlement_day=trading))
        return found

    # -- orders --------------------------------------------------------------------------------
    @_localized
    def place_order(self, order: OrderRequest) -> OrderAck:
        now = self._now()
        placed = book.paper_order_place(account=self.account, order=order, now=now)
        return OrderAck(order_no=placed.order_no, accepted_at=_hhmmss(now))

    @_localized
    def revise_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None,
                     price: Decimal, order_type: OrderType = OrderType.LIMIT) -> OrderAck:
        now = self._now()
        revision = book.paper_order_revise(account=self.account, order_no=order_no, quantity=quantity, price=price,
                                           order_type=order_type, now=now)
        return OrderAck(order_no=revision.order_no, accepted_at=_hhmmss(now))

    @_localized
    def cancel_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None = None) -> OrderAck:
        now = self._now()
        cancelled = book.paper_order_cancel(account=self.account, order_no=order_no, quantity=quantity, now=now)
        return OrderAck(order_no=cancelled.order_no, accepted_at=_hhmmss(now))

    @_localized
    def day_orders(self, day: dt.date, *, open_only: bool = False) -> list[OrderRecord]:
        self._expire()
        orders = selectors.paper_order_list(account=self.account, day=day, open_only=open_only)
        return [_order_record(o) for o in orders]

    @_localized
    def day_fills(self, day: dt.date) -> list[FillRecord]:
        return _fill_records(list(selectors.paper_fill_list(account=self.account, day=day)))

    @_localized
    def open_orders(self) -> list[OrderRecord]:
        self._expire()
        return [_order_record(o) for o in selectors.paper_order_list(account=self.account, open_only=True)]

    # -- money ---------------------------------------------------------------------------------
    def _position_record(self, position: PaperPosition, now: dt.datetime) -> PositionRecord:
        rules = prices.instrument_rules(position.symbol)
        point = prices.latest_price(position.symbol, now=now)
        current = point.price if point is not None else position.average_price
        evaluation = round_money(rules, position.quantity * current)
        profit = evaluation - position.cost
        rate = (profit / position.cost * 100).quantize(Decimal("0.01")) if position.cost else ZERO
        sellable = selectors.sellable_quantity(position.book, position.symbol)
        return PositionRecord(
            symbol=position.symbol, quantity=position.quantity.normalize(), sellable_quantity=sellable.normalize(),
            average_price=round_money(rules, position.average_price), current_price=current, evaluation=evaluation,
            profit_loss=profit, profit_loss_rate=rate,
        )

    @_localized
    def balance(self) -> Balance:
        """Cash by settlement date and every position valued at the newest price."""
        now = self._expire()
        cash = selectors.paper_cash(account=self.account, now=now)
        positions = tuple(self._position_record(p, now)
                          for p in selectors.paper_position_list(account=self.account).select_related("book"))
        securities = sum((p.evaluation for p in positions), ZERO)
        return Balance(
            deposit=cash.deposit, orderable_cash=cash.orderable, settlement_d2=cash.settlement_d2,
            settlement_d1=cash.settlement_d1, total_evaluation=cash.settlement_d2 + securities, positions=positions,
            securities_evaluation=securities, profit_loss=sum((p.profit_loss for p in positions), ZERO),
        )

    @_localized
    def buying_power(self, symbol: str, price: Decimal | None = None) -> BuyingPower:
        """How much of ``symbol`` orderable cash buys at ``price`` (default: the newest price)."""
        now = self._expire()
        rules = prices.instrument_rules(symbol)
        if price is None:
            point = prices.latest_price(symbol, now=now)
            if point is None:
                raise PaperRefused("no_price", symbol=symbol)
            price = point.price
        cash = selectors.paper_cash(account=self.account, now=now).orderable
        return BuyingPower(symbol=symbol, price=price, orderable_cash=cash,
                           max_quantity=affordable_quantity(rules, paper_costs(), cash, price))

    @_localized
    def sellable_quantity(self, symbol: str) -> Decimal:
        self._expire()
        return selectors.sellable_quantity(selectors.paper_book_get(account=self.account), symbol)
