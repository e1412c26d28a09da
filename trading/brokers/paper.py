"""The paper broker's rules: what KRX (and Upbit's KRW market) would accept, and how a price fills.

Pure (no Django): the book in ``trading/paper/`` keeps cash, orders, fills and positions in the
database and asks here for every decision. The market rules (sessions, ticks, price limits, lots,
minimum order value, cash and sellable checks) belong to ``trading.risk``, the one module of
pre-trade checks every door uses; this module raises their first failure as a ``PaperRefused``
and keeps what only the paper broker does (costs, matching, fills). Decisions and their sources:

- **Sessions** (broker-apis.md D1) from the platform's calendar (``marketdata.calendars``: holidays,
  the first trading day's 10:00 open, the college entrance exam day). KRX takes orders from 08:30
  to the session's close (15:30 on a normal day). ``PRE_OPEN`` (08:30 .. open) is the opening
  call auction, longer on a late-open day (our reading; unconfirmed for the exam day);
  ``CONTINUOUS`` (open .. close - 10 min); ``CLOSING_AUCTION`` (close - 10 min .. close).
  An order placed during an auction (market or limit) rests for that auction: the first match
  after the open, or the first after the close, fills it at the newest price if it crosses.
  In continuous trading a market order fills at once at the newest price, a limit order that
  crosses it fills at that price, and a resting limit fills at its own limit when a newer price
  crosses it. What a KRX order still holds after the closing auction expires with the day (no
  after-hours sessions on paper). IOC/FOK orders need continuous trading. KRW crypto pairs trade
  around the clock, every day; their orders rest until filled or cancelled.
- **Prices**: limit prices must sit on the tick grid of their own band (``marketdata.ticks``,
  D2 for stocks, Upbit's KRW table for crypto) and, on KRX, inside ±30 % of the previous close
  (D3: the upper limit rounded down to its tick, the lower rounded up). Crypto has no daily limit.
- **Quantities**: a positive multiple of the instrument's lot (1 share; 1e-8 for Upbit pairs) and
  at least its minimum order value (Upbit: 5,000 KRW; KRX: none).
- **Costs** (D4) through the backtest engine's cost model (``backtests.engine.costs``): commission
  per side, the sell tax dated by the sell's settlement date (trade date + 2 KRX trading days).
  KRX amounts are whole won, commission and tax truncated (원 미만 절사); crypto amounts keep four
  decimals of a won. A resting buy holds its price × quantity + commission; a market buy is held
  at the upper price limit, as the brokers count a market order's buying power (crypto: at the
  newest price, and a fill never spends more than the free cash).
- **Partial fills**: one match fills at most ``volume_share`` of the volume behind the price
  (a bar's volume, a tick's volume; at least one lot), and only a price newer than the last one
  the order saw can fill a resting order again. A price without a volume (a quote) has no cap.

A refusal is a ``PaperRefused`` (a ``trading.risk.RiskRefused``, so a ``Refused``) with a stable
``code`` and an English message; the Django side shows the same text translated
(``PaperRefused.localized``): the templates are marked with ``gettext_noop`` so ``makemessages``
finds them (the market rules' in ``trading.risk``, the paper broker's own here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import ClassVar

import numpy as np

from marketdata.calendars import calendar_for
from trading import risk
from trading.risk import (
    DEFAULT_COMMISSION,
    InstrumentRules,
    MarketMoment,
    Phase,
    amount,
    floor_to_lot,
    gettext_noop,
    market_moment,
    price_limits,
    round_money,
    round_to_tick,
    tick_of,
)

from .base import OrderType, Side

__all__ = [  # the market rules are trading.risk's; re-exported for the paper book
    "DEFAULT_COMMISSION", "DEFAULT_VOLUME_SHARE", "MESSAGES", "FillAmounts", "InstrumentRules", "MarketMoment",
    "PaperCosts", "PaperRefused", "Phase", "affordable_quantity", "amount", "check_cash", "check_limit_price",
    "check_min_order_value", "check_quantity", "check_sellable", "check_session", "crosses", "fill_amounts",
    "floor_to_lot", "market_moment", "match_price", "price_limits", "round_money", "round_to_tick", "tick_of",
    "volume_cap",
]
DEFAULT_VOLUME_SHARE = Decimal("0.1")

MESSAGES: dict[str, str] = {
    **risk.MESSAGES,
    "no_price": gettext_noop("There is no price for {symbol} yet, so the paper broker cannot trade it."),
    "unknown_order": gettext_noop("Order {order_no} was not found in this account."),
    "order_closed": gettext_noop("Order {order_no} has nothing left to change: it is {status}."),
    "bad_revision": gettext_noop(
        "Order {order_no} has {remaining} left; a change or cancellation can cover at most that."),
    "no_book": gettext_noop("This account is not a paper account with a book."),
    "order_type_not_supported": gettext_noop("The paper broker does not take {order_type} orders."),
}


class PaperRefused(risk.RiskRefused):
    """A refusal of the paper broker: a stable ``code``, the message's ``params`` (already formatted)."""

    messages: ClassVar[Mapping[str, str]] = MESSAGES


# -- the market rules, raising (trading.risk collects them) ---------------------------------------
def check_session(rules: InstrumentRules, order_type: OrderType, now: dt.datetime) -> MarketMoment:
    """The market moment of a new order; raises ``market_closed`` outside the order window and
    ``not_continuous`` for IOC/FOK outside continuous trading."""
    moment = market_moment(rules.market, now)
    risk.refuse_first(risk.session_failures(rules, order_type, moment, now), PaperRefused)
    return moment


def check_limit_price(rules: InstrumentRules, price: Decimal | None, previous_close: Decimal | None) -> None:
    """Raise ``bad_price``, ``off_tick`` or ``outside_price_limit`` for a limit price KRX (or Upbit) refuses."""
    risk.refuse_first(risk.price_failures(rules, price, previous_close), PaperRefused)


def check_quantity(rules: InstrumentRules, quantity: Decimal) -> None:
    """Raise ``bad_lot`` unless ``quantity`` is a positive multiple of the lot."""
    risk.refuse_first(risk.quantity_failures(rules, quantity), PaperRefused)


def check_min_order_value(rules: InstrumentRules, quantity: Decimal, price: Decimal) -> None:
    """Raise ``below_min_order_value`` when ``quantity`` × ``price`` is under the instrument's minimum."""
    risk.refuse_first(risk.min_value_failures(rules, quantity, price), PaperRefused)


def check_cash(needed: Decimal, available: Decimal) -> None:
    risk.refuse_first(risk.cash_failures(needed, available), PaperRefused)


def check_sellable(rules: InstrumentRules, quantity: Decimal, sellable: Decimal) -> None:
    risk.refuse_first(risk.sellable_failures(rules, quantity, sellable), PaperRefused)


# -- costs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaperCosts:
    """Commission per side and an optional fixed sell tax (None: the engine's dated market table)."""

    commission: Decimal = DEFAULT_COMMISSION
    sell_tax: Decimal | None = None

    def commission_of(self, rules: InstrumentRules, value: Decimal) -> Decimal:
        return round_money(rules, value * self.commission, ROUND_FLOOR)

    def sell_tax_rate(self, rules: InstrumentRules, trade_day: dt.date) -> Decimal:
        """The rate in force on the settlement date of a sell made on ``trade_day``."""
        # Imported here: the engine package loads its compiled kernels, which the book never needs.
        from backtests.engine.costs import Costs

        costs = Costs(commission=float(self.commission),
                      sell_tax=None if self.sell_tax is None else float(self.sell_tax))
        rate = costs.sell_tax_rates(rules.market.upper(), np.array([trade_day], dtype="datetime64[D]"))[0]
        return Decimal(repr(float(rate))).normalize()

    def sell_tax_of(self, rules: InstrumentRules, value: Decimal, trade_day: dt.date) -> Decimal:
        return round_money(rules, value * self.sell_tax_rate(rules, trade_day), ROUND_FLOOR)

    def buy_reservation(self, rules: InstrumentRules, quantity: Decimal, price: Decimal) -> Decimal:
        """Cash held for a buy of ``quantity`` at up to ``price``: never less than its fill will cost."""
        return risk.buy_reservation(rules, quantity, price, self.commission)


@dataclass(frozen=True)
class FillAmounts:
    value: Decimal
    commission: Decimal
    tax: Decimal
    net_cash: Decimal  # what the account's cash changes by: negative for a buy
    settles_on: dt.date


def fill_amounts(rules: InstrumentRules, costs: PaperCosts, side: Side, quantity: Decimal, price: Decimal,
                 trade_day: dt.date) -> FillAmounts:
    """Value, commission, sell tax, cash change and settlement date of one fill."""
    value = round_money(rules, quantity * price)
    commission = costs.commission_of(rules, value)
    tax = costs.sell_tax_of(rules, value, trade_day) if side is Side.SELL else Decimal(0)
    net = value - commission - tax if side is Side.SELL else -(value + commission)
    return FillAmounts(value, commission, tax, net, calendar_for(rules.market).settlement_date(trade_day))


def affordable_quantity(rules: InstrumentRules, costs: PaperCosts, cash: Decimal, price: Decimal) -> Decimal:
    """The largest quantity (in lots) whose buy at ``price`` costs no more than ``cash``."""
    if price <= 0 or cash <= 0:
        return Decimal(0)
    quantity = floor_to_lot(cash / (price * (1 + costs.commission)), rules.lot_size)
    while quantity > 0 and costs.buy_reservation(rules, quantity, price) > cash:
        quantity -= rules.lot_size
    return max(quantity, Decimal(0))


# -- matching -------------------------------------------------------------------------------------
def crosses(side: Side, limit: Decimal, price: Decimal) -> bool:
    """A buy limit crosses a price at or below it, a sell limit one at or above it."""
    return price <= limit if side is Side.BUY else price >= limit


def match_price(order_type: OrderType, side: Side, limit: Decimal | None, price: Decimal, *,
                at_market_price: bool) -> Decimal | None:
    """The price an order fills at against the newest ``price``, or None when it does not cross.

    A market order takes ``price``. A limit order that crosses takes ``price`` when
    ``at_market_price`` (it just arrived, or an auction prices it) and its own limit when it rests
    (the market traded through it).
    """
    if not order_type.needs_price:
        return price
    assert limit is not None
    if not crosses(side, limit, price):
        return None
    return price if at_market_price else limit


def volume_cap(rules: InstrumentRules, volume: Decimal | None, share: Decimal | None) -> Decimal | None:
    """The most one match may fill against a price with ``volume`` behind it (None: no cap)."""
    if volume is None or share is None or share <= 0 or volume <= 0:
        return None
    return max(floor_to_lot(volume * share, rules.lot_size), rules.lot_size)
