"""Positions and P&L as the 잔고 page shows them: the ledger's positions valued at the newest price.

Per position: market value, unrealised P&L (value less the cost of what is held, at fill prices),
realised P&L (the ledger's, net of commission and tax) and **today's P&L**: what the holding gained
since the previous close, trades of today included:

    today = quantity × last − quantity at the open × previous close − bought today + sold today − today's costs

where the quantity at the open is today's quantity less today's buys plus today's sells. Without a
previous close it is only known when nothing was held at the open (then the base is zero).

``day_pnl`` is pure; ``position_rows`` reads the platform (positions, today's fills, prices).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from marketdata.calendars import SEOUL
from marketdata.selectors import instrument_names
from trading.orders import selectors
from trading.orders.models import Fill, Position

ZERO = Decimal(0)


@dataclass
class TodayTrades:
    """One symbol's fills of today in one account."""

    bought: Decimal = ZERO  # quantity
    bought_value: Decimal = ZERO
    sold: Decimal = ZERO
    sold_value: Decimal = ZERO
    costs: Decimal = ZERO  # commission and tax

    def add(self, fill: Fill) -> None:
        if fill.side == "buy":
            self.bought += fill.quantity
            self.bought_value += fill.value
        else:
            self.sold += fill.quantity
            self.sold_value += fill.value
        self.costs += fill.commission + fill.tax


def day_pnl(*, quantity: Decimal, last: Decimal | None, previous_close: Decimal | None,
            today: TodayTrades) -> Decimal | None:
    """Today's P&L of one holding (module docstring); None when a price it needs is unknown."""
    opening = quantity - today.bought + today.sold
    if last is None and quantity:
        return None
    if previous_close is None and opening:
        return None
    value_now = quantity * last if quantity else ZERO
    value_at_open = opening * previous_close if opening else ZERO
    return value_now - value_at_open - today.bought_value + today.sold_value - today.costs


@dataclass
class PositionRow:
    position: Position
    name: str
    last: Decimal | None
    previous_close: Decimal | None
    today: TodayTrades

    @property
    def symbol(self) -> str:
        return self.position.symbol

    # computed once: the totals and the page read each several times (a row is not changed once made)
    @cached_property
    def market_value(self) -> Decimal | None:
        return None if self.last is None else self.position.quantity * self.last

    @cached_property
    def unrealized(self) -> Decimal | None:
        value = self.market_value
        return None if value is None or not self.position.quantity else value - self.position.cost

    @cached_property
    def unrealized_percent(self) -> Decimal | None:
        pnl = self.unrealized
        return None if pnl is None or not self.position.cost else pnl / self.position.cost * 100

    @cached_property
    def today_pnl(self) -> Decimal | None:
        return day_pnl(quantity=self.position.quantity, last=self.last, previous_close=self.previous_close,
                       today=self.today)

    @cached_property
    def change_percent(self) -> Decimal | None:
        """The price's change since the previous close (the colour of the last price)."""
        if self.last is None or not self.previous_close:
            return None
        return (self.last - self.previous_close) / self.previous_close * 100


@dataclass
class Totals:
    market_value: Decimal = ZERO
    cost: Decimal = ZERO
    unrealized: Decimal = ZERO
    realized: Decimal = ZERO
    today: Decimal = ZERO
    incomplete: bool = False  # a price was missing: the sums leave that position out
    mismatches: int = 0

    rows: list[PositionRow] = field(default_factory=list)

    @property
    def unrealized_percent(self) -> Decimal | None:
        return self.unrealized / self.cost * 100 if self.cost else None


def _price(symbol: str, now: dt.datetime) -> tuple[Decimal | None, Decimal | None]:
    from trading.paper.prices import latest_price

    point = latest_price(symbol, now=now)
    return (None, None) if point is None else (point.price, point.previous_close)


def position_rows(*, user: Any, account_id: int, now: dt.datetime) -> Totals:
    """The account's positions worth showing (held, mismatched, or traded today) with their P&L,
    and the account's totals. Scoped to ``user`` (another user's account shows nothing)."""
    today = now.astimezone(SEOUL).date()
    trades: dict[str, TodayTrades] = {}
    # the fills' orders and accounts are not read here: no join to load them (the positions keep
    # theirs: the API shows each position's account)
    for fill in selectors.fill_list(user=user, account_id=account_id, start=today, end=today).select_related(None):
        trades.setdefault(fill.symbol, TodayTrades()).add(fill)
    positions = [p for p in selectors.position_list(user=user, account_id=account_id, held_only=False)
                 if p.quantity or p.mismatch or p.symbol in trades]
    names = instrument_names(codes=[p.symbol for p in positions])
    totals = Totals()
    for position in positions:
        last, previous = _price(position.symbol, now)
        row = PositionRow(position, names.get(position.symbol, ""), last, previous,
                          trades.get(position.symbol, TodayTrades()))
        totals.rows.append(row)
        totals.realized += position.realized_pnl
        totals.mismatches += position.mismatch
        if row.market_value is None or row.today_pnl is None:
            totals.incomplete = totals.incomplete or bool(position.quantity) or row.today_pnl is None
        if row.market_value is not None and position.quantity:
            totals.market_value += row.market_value
            totals.cost += position.cost
            totals.unrealized += row.unrealized or ZERO
        if row.today_pnl is not None:
            totals.today += row.today_pnl
    return totals


__all__ = ["PositionRow", "TodayTrades", "Totals", "day_pnl", "position_rows"]
