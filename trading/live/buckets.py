"""A deployment's capital bucket, read from the ledger: its cash, its positions, its open orders.

The bucket is computed from the fills of the deployment's own orders (the orders its signals
became), exactly as the engine moves its shared account's cash: ``capital`` − every buy's value and
commission + every sell's value less commission and tax. A position is the net filled quantity of
one symbol, with its average buy price (the entry price the risk rules use) and the day it was
opened (when it was last flat). Open orders are listed so that a decision neither buys a symbol
with a buy still open nor sells one twice, and the cash an open buy will take is held back.

Reads many deployments at once (``buckets_of``): the runner evaluates thousands at one slot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from marketdata.calendars import SEOUL
from trading.orders.models import Fill, Order
from trading.orders.states import OPEN

CHUNK = 500


@dataclass
class Position:
    symbol: str
    quantity: float = 0.0
    cost: float = 0.0  # buy value of what is held (average price x quantity)
    opened: dt.date | None = None  # the trading day of the first buy since it was last flat
    realized: float = 0.0

    @property
    def entry_price(self) -> float:
        return self.cost / self.quantity if self.quantity > 0 else 0.0


@dataclass
class Bucket:
    """One deployment's bucket: ``cash`` after every fill so far, ``positions`` by symbol, open
    orders (``open_buys``: symbol → cash they will take; ``open_sells``: symbol → quantity)."""

    capital: float
    cash: float
    positions: dict[str, Position] = field(default_factory=dict)
    open_buys: dict[str, float] = field(default_factory=dict)
    open_sells: dict[str, float] = field(default_factory=dict)
    fills: int = 0

    def held(self) -> dict[str, Position]:
        return {symbol: p for symbol, p in self.positions.items() if p.quantity > 0}

    @property
    def available(self) -> float:
        """Cash not held back by open buys."""
        return self.cash - sum(self.open_buys.values())

    def equity(self, prices: dict[str, float]) -> float:
        """Cash plus the held positions at ``prices`` (their cost when a price is missing)."""
        return self.cash + sum(p.quantity * prices.get(s, p.entry_price) for s, p in self.held().items())


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def buckets_of(capitals: dict[int, Decimal | float], *, commission: float = 0.00015) -> dict[int, Bucket]:
    """The buckets of the deployments ``{id: capital}`` (every one, even without a fill)."""
    buckets = {pk: Bucket(capital=float(capital), cash=float(capital)) for pk, capital in capitals.items()}
    ids = list(buckets)
    for chunk in _chunks(ids):
        rows = (Fill.objects.filter(order__deployment_signals__deployment_id__in=chunk)
                .order_by("filled_at", "id")
                .values_list("order__deployment_signals__deployment_id", "symbol", "side", "quantity", "price",
                             "value", "commission", "tax", "filled_at"))
        for pk, symbol, side, quantity, price, value, fee, tax, at in rows:
            _apply(buckets[pk], symbol, side, float(quantity), float(price), float(value), float(fee), float(tax), at)
        orders = (Order.objects.filter(deployment_signals__deployment_id__in=chunk, state__in=OPEN)
                  .values_list("deployment_signals__deployment_id", "symbol", "side", "quantity", "filled_quantity",
                               "cancelled_quantity", "deployment_signals__price"))
        for pk, symbol, side, quantity, filled, cancelled, price in orders:
            remaining = float(max(quantity - filled - cancelled, Decimal(0)))
            if remaining <= 0:
                continue
            bucket = buckets[pk]
            if side == "buy":
                cost = remaining * float(price or 0) * (1.0 + commission)
                bucket.open_buys[symbol] = bucket.open_buys.get(symbol, 0.0) + cost
            else:
                bucket.open_sells[symbol] = bucket.open_sells.get(symbol, 0.0) + remaining
    return buckets


def _apply(bucket: Bucket, symbol: str, side: str, quantity: float, price: float, value: float, fee: float,
           tax: float, at: dt.datetime) -> None:
    position = bucket.positions.setdefault(symbol, Position(symbol))
    bucket.fills += 1
    if side == "buy":
        if position.quantity <= 0:
            position.opened = at.astimezone(SEOUL).date()
            position.cost = 0.0
        bucket.cash -= value + fee
        position.quantity += quantity
        position.cost += quantity * price
        return
    bucket.cash += value - fee - tax
    sold = min(quantity, position.quantity)
    average = position.entry_price
    position.realized += sold * (price - average) - fee - tax
    position.cost -= sold * average
    position.quantity -= sold
    if position.quantity <= 1e-12:
        position.quantity, position.cost = 0.0, 0.0


__all__ = ["Bucket", "Position", "buckets_of"]
