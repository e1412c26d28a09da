"""What the order ticket shows before an order is placed: the symbol's prices and tick rules, the
quantity an amount buys, and the estimated cost with commission and tax.

The estimate uses the platform's cost helpers (``trading.brokers.paper``: the commission of
``PAPER_COMMISSION_RATE``, the dated sell tax), the same ones the ledger uses when a broker does
not report its costs; the broker's own figures may differ a little. A market order is estimated at
the newest price (else the previous close); a market buy holds cash up to the upper price limit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from marketdata.calendars import SEOUL
from marketdata.selectors import instrument_names
from marketdata.ticks import TICK_TABLES
from trading import risk
from trading.brokers.base import OrderType, Side
from trading.brokers.paper import PaperRefused, affordable_quantity, fill_amounts

ZERO = Decimal(0)
MESSAGE_NO_PRICE = _("There is no price for {symbol} yet: enter a limit price, or the quantity instead of an amount.")
MESSAGE_AMOUNT_TOO_SMALL = _("{amount} KRW buys less than one lot of {symbol} at {price} KRW.")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


@dataclass(frozen=True)
class SymbolInfo:
    """A symbol as the ticket needs it: rules, prices and the day's price limits."""

    symbol: str
    name: str
    rules: risk.InstrumentRules | None
    last: Decimal | None = None
    previous_close: Decimal | None = None

    @property
    def known(self) -> bool:
        return self.rules is not None

    @property
    def limits(self) -> tuple[Decimal, Decimal] | None:
        return None if self.rules is None else risk.price_limits(self.rules, self.previous_close)

    @property
    def change_percent(self) -> Decimal | None:
        if self.last is None or not self.previous_close:
            return None
        return (self.last - self.previous_close) / self.previous_close * 100

    @property
    def tick(self) -> Decimal | None:
        price = self.last or self.previous_close
        return None if self.rules is None or not price else risk.tick_of(self.rules, price)

    @property
    def market(self) -> risk.MarketState:
        return risk.MarketState(previous_close=self.previous_close, last_price=self.last)

    def as_json(self) -> dict[str, Any]:
        """For the ticket's script: ± tick buttons (the tick table of the symbol's regime), amount."""
        limits = self.limits
        rules = self.rules
        return {
            "symbol": self.symbol, "name": self.name, "known": self.known,
            "market": rules.market if rules else None, "tick_regime": rules.tick_regime if rules else None,
            "ticks": [[bound, tick] for bound, tick in TICK_TABLES[rules.tick_regime]] if rules else [],
            "lot": _text(rules.lot_size) if rules else None,
            "last": _text(self.last), "previous_close": _text(self.previous_close),
            "lower": _text(limits[0]) if limits else None, "upper": _text(limits[1]) if limits else None,
            "tick": _text(self.tick), "commission_rate": _text(commission_rate()),
        }


def commission_rate() -> Decimal:
    """The commission rate the estimates use (per side)."""
    from trading.paper.matching import paper_costs

    return paper_costs().commission


def symbol_info(symbol: str, *, now: dt.datetime) -> SymbolInfo:
    """The symbol's rules and newest prices (rules None: the instrument master does not know it)."""
    from trading.paper.prices import instrument_rules, latest_price

    try:
        rules = instrument_rules(symbol)
    except PaperRefused:
        return SymbolInfo(symbol, "", None)
    name = instrument_names(codes=[symbol]).get(symbol, "")
    point = latest_price(symbol, now=now)
    if point is None:
        return SymbolInfo(symbol, name, rules)
    return SymbolInfo(symbol, name, rules, point.price, point.previous_close)


@dataclass(frozen=True)
class Estimate:
    """What one order is expected to cost (a buy) or bring (a sell), at ``price``."""

    side: Side
    quantity: Decimal
    price: Decimal
    value: Decimal
    commission: Decimal
    tax: Decimal
    reserve: Decimal | None = None  # a market buy: the cash held until it fills (at the upper limit)

    @property
    def total(self) -> Decimal:
        """A buy: what it costs with commission; a sell: what it brings after commission and tax."""
        if self.side is Side.BUY:
            return self.value + self.commission
        return self.value - self.commission - self.tax


def value_price(info: SymbolInfo, order_type: str, price: Decimal | None) -> Decimal | None:
    """The price an order is valued at: its limit, or for a market order the newest price."""
    if OrderType(order_type).needs_price:
        return price
    return info.last or info.previous_close


def quantity_for_amount(info: SymbolInfo, side: str, amount: Decimal, price: Decimal) -> Decimal:
    """Whole lots ``amount`` KRW buys at ``price`` with commission (a buy), or is worth (a sell)."""
    from trading.paper.matching import paper_costs

    assert info.rules is not None
    if Side(side) is Side.BUY:
        return affordable_quantity(info.rules, paper_costs(), amount, price)
    return max(risk.floor_to_lot(amount / price, info.rules.lot_size), ZERO)


def estimate(info: SymbolInfo, *, side: str, order_type: str, quantity: Decimal, price: Decimal | None,
             now: dt.datetime) -> Estimate | None:
    """The order's estimated value, commission and tax; None without rules or a price."""
    from trading.paper.matching import paper_costs

    at = value_price(info, order_type, price)
    if info.rules is None or not at or quantity <= 0:
        return None
    side = Side(side)
    amounts = fill_amounts(info.rules, paper_costs(), side, quantity, at, now.astimezone(SEOUL).date())
    reserve = None
    if side is Side.BUY and not OrderType(order_type).needs_price:
        limits = info.limits
        upper = limits[1] if limits else at
        reserve = paper_costs().buy_reservation(info.rules, quantity, upper)
    return Estimate(side, quantity, at, amounts.value, amounts.commission, amounts.tax, reserve)


def prepare_quantity(info: SymbolInfo, data: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    """The order's quantity from the ticket's cleaned data: typed, or what the amount comes to.
    (quantity, None) or (None, the message for the amount field)."""
    if data["mode"] != "amount":
        return data["quantity"], None
    if info.rules is None:
        return None, None  # the symbol's own failure says why
    at = value_price(info, data["order_type"], data.get("price"))
    if not at:
        return None, str(MESSAGE_NO_PRICE).format(symbol=info.symbol)
    quantity = quantity_for_amount(info, data["side"], data["amount"], at)
    if quantity <= 0:
        return None, str(MESSAGE_AMOUNT_TOO_SMALL).format(amount=risk.amount(data["amount"]), symbol=info.symbol,
                                                          price=risk.amount(at))
    return quantity, None


__all__ = ["Estimate", "SymbolInfo", "estimate", "prepare_quantity", "quantity_for_amount", "symbol_info",
           "value_price"]
