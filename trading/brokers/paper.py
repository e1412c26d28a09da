"""The paper broker's rules: what KRX (and Upbit's KRW market) would accept, and how a price fills.

Pure (no Django): the book in ``trading/paper/`` keeps cash, orders, fills and positions in the
database and asks here for every decision. Decisions and their sources:

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

A refusal is a ``PaperRefused`` (a ``Refused``) with a stable ``code`` and an English message; the
Django side shows the same text translated (``PaperRefused.localized``): the templates are marked
with ``gettext_noop`` so ``makemessages`` finds them here.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np

from marketdata import ticks
from marketdata.calendars import CRYPTO_MARKETS, KRX_CLOSE, SEOUL, Session, calendar_for

from .base import OrderType, Refused, Side

ORDERS_FROM = dt.time(8, 30)  # the pre-open call auction starts taking orders
CLOSING_AUCTION = dt.timedelta(minutes=10)  # 15:20-15:30
PRICE_LIMIT = Decimal("0.30")  # ±30 % of the previous close (D3)
DEFAULT_COMMISSION = Decimal("0.00015")  # the engine's default (backtests.engine.costs.Costs)
DEFAULT_VOLUME_SHARE = Decimal("0.1")
KRX_MONEY_UNIT = Decimal(1)
CRYPTO_MONEY_UNIT = Decimal("0.0001")


def gettext_noop(text: str) -> str:
    """Marks a message for translation (``makemessages`` knows the name); returns it unchanged."""
    return text


MESSAGES: dict[str, str] = {
    "market_closed": gettext_noop(
        "The market is closed. {symbol} takes orders on trading days from {start} to {end} (KST); "
        "the next chance is {next_open}."),
    "not_continuous": gettext_noop(
        "IOC and FOK orders are accepted only during continuous trading ({start} to {end} KST)."),
    "bad_price": gettext_noop("A limit order needs a price above zero."),
    "off_tick": gettext_noop(
        "{price} KRW is not a valid price for {symbol}: at this level prices move in steps of {tick} KRW "
        "(nearest valid prices: {below} and {above})."),
    "outside_price_limit": gettext_noop(
        "{price} KRW is outside today's price limits for {symbol}: {lower} to {upper} KRW "
        "(±30 % of the previous close, {base} KRW)."),
    "bad_lot": gettext_noop("{quantity} is not a valid quantity for {symbol}: use a positive multiple of {lot}."),
    "below_min_order_value": gettext_noop(
        "This order is worth {value} KRW; {symbol} needs at least {minimum} KRW per order."),
    "insufficient_cash": gettext_noop(
        "Not enough cash: this order needs {needed} KRW including commission, and {available} KRW is "
        "available for orders."),
    "insufficient_quantity": gettext_noop(
        "Not enough {symbol} to sell: {available} can be sold, the order is for {quantity}."),
    "no_price": gettext_noop("There is no price for {symbol} yet, so the paper broker cannot trade it."),
    "unknown_symbol": gettext_noop("{symbol} is not a known instrument."),
    "halted": gettext_noop("{symbol} is not trading now (suspended or delisted)."),
    "unknown_order": gettext_noop("Order {order_no} was not found in this account."),
    "order_closed": gettext_noop("Order {order_no} has nothing left to change: it is {status}."),
    "bad_revision": gettext_noop(
        "Order {order_no} has {remaining} left; a change or cancellation can cover at most that."),
    "no_book": gettext_noop("This account is not a paper account with a book."),
    "order_type_not_supported": gettext_noop("The paper broker does not take {order_type} orders."),
}


class PaperRefused(Refused):
    """A refusal of the paper broker: a stable ``code``, the message's ``params`` (already formatted)."""

    def __init__(self, code: str, *, translate: Callable[[str], str] | None = None, **params: str) -> None:
        template = MESSAGES[code]
        super().__init__((translate or gettext_noop)(template).format(**params), code=code)
        self.params = params

    def localized(self, translate: Callable[[str], str]) -> PaperRefused:
        """The same refusal with its message in the language ``translate`` (``gettext``) speaks."""
        return PaperRefused(self.code, translate=translate, **self.params)


def amount(value: Decimal) -> str:
    """``1234567.5`` → ``1,234,567.5``: a number for a message, without trailing zeros."""
    return f"{value.normalize():,f}"


# -- instruments and sessions ---------------------------------------------------------------------
@dataclass(frozen=True)
class InstrumentRules:
    """What the paper broker needs to know about a symbol (from the instrument master)."""

    symbol: str
    market: str  # KOSPI, KOSDAQ, KONEX, CRYPTO
    tick_regime: str = "krx_stock"
    lot_size: Decimal = Decimal(1)
    min_order_value: Decimal = Decimal(0)
    halted: bool = False

    @property
    def is_crypto(self) -> bool:
        return self.market.upper() in CRYPTO_MARKETS

    @property
    def money_unit(self) -> Decimal:
        return CRYPTO_MONEY_UNIT if self.is_crypto else KRX_MONEY_UNIT


class Phase(enum.StrEnum):
    CLOSED = "closed"  # no orders (a closed day, or before the pre-open auction)
    PRE_OPEN = "pre_open"  # the opening call auction: orders rest until the open
    CONTINUOUS = "continuous"
    CLOSING_AUCTION = "closing_auction"  # orders rest until the close
    AFTER_CLOSE = "after_close"  # the closing auction is due; nothing new is accepted

    @property
    def accepts_orders(self) -> bool:
        return self in (Phase.PRE_OPEN, Phase.CONTINUOUS, Phase.CLOSING_AUCTION)

    @property
    def is_auction(self) -> bool:
        return self in (Phase.PRE_OPEN, Phase.CLOSING_AUCTION)


@dataclass(frozen=True)
class MarketMoment:
    """Where a market stands at one instant: its phase and the order day (a Seoul date)."""

    phase: Phase
    day: dt.date
    session: Session | None = None


def market_moment(market: str, now: dt.datetime) -> MarketMoment:
    """The phase of ``market`` at the aware instant ``now``. Crypto is always continuous."""
    local = now.astimezone(SEOUL)
    day = local.date()
    if market.upper() in CRYPTO_MARKETS:
        return MarketMoment(Phase.CONTINUOUS, day)
    calendar = calendar_for(market)
    if not calendar.is_trading_day(day):
        return MarketMoment(Phase.CLOSED, day)
    session = calendar.session(day)
    if local < _orders_from(day):
        phase = Phase.CLOSED
    elif local < session.open:
        phase = Phase.PRE_OPEN
    elif local < session.close - CLOSING_AUCTION:
        phase = Phase.CONTINUOUS
    elif local < session.close:
        phase = Phase.CLOSING_AUCTION
    else:
        phase = Phase.AFTER_CLOSE
    return MarketMoment(phase, day, session)


def _orders_from(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, ORDERS_FROM, SEOUL)


def _next_order_window(market: str, now: dt.datetime) -> dt.datetime:
    local = now.astimezone(SEOUL)
    calendar = calendar_for(market)
    day = local.date()
    if calendar.is_trading_day(day) and local < _orders_from(day):
        return _orders_from(day)
    return _orders_from(calendar.next_trading_day(day))


def check_session(rules: InstrumentRules, order_type: OrderType, now: dt.datetime) -> MarketMoment:
    """The market moment of a new order; raises ``market_closed`` outside the order window and
    ``not_continuous`` for IOC/FOK outside continuous trading."""
    moment = market_moment(rules.market, now)
    if not moment.phase.accepts_orders:
        opens = _next_order_window(rules.market, now)
        raise PaperRefused("market_closed", symbol=rules.symbol, start=ORDERS_FROM.strftime("%H:%M"),
                           end=KRX_CLOSE.strftime("%H:%M"),
                           next_open=opens.strftime("%Y-%m-%d %H:%M"))
    immediate = order_type not in (OrderType.LIMIT, OrderType.MARKET)
    if immediate and moment.phase is not Phase.CONTINUOUS:
        assert moment.session is not None  # crypto is always continuous
        end = moment.session.close - CLOSING_AUCTION
        raise PaperRefused("not_continuous", start=moment.session.open.strftime("%H:%M"), end=end.strftime("%H:%M"))
    return moment


# -- prices and quantities ------------------------------------------------------------------------
def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value))).normalize()


def tick_of(rules: InstrumentRules, price: Decimal) -> Decimal:
    return _dec(ticks.tick_size(float(price), rules.tick_regime))


def round_to_tick(rules: InstrumentRules, price: Decimal, direction: ticks.Direction) -> Decimal:
    return _dec(ticks.round_to_tick(float(price), rules.tick_regime, direction))


def price_limits(rules: InstrumentRules, previous_close: Decimal | None) -> tuple[Decimal, Decimal] | None:
    """(lower, upper) daily limits of a KRX symbol: ±30 % of ``previous_close`` on the tick grid;
    None for crypto or without a previous close."""
    if rules.is_crypto or not previous_close:
        return None
    upper = round_to_tick(rules, previous_close * (1 + PRICE_LIMIT), "down")
    lower = round_to_tick(rules, previous_close * (1 - PRICE_LIMIT), "up")
    return lower, upper


def check_limit_price(rules: InstrumentRules, price: Decimal | None, previous_close: Decimal | None) -> None:
    """Raise ``bad_price``, ``off_tick`` or ``outside_price_limit`` for a limit price KRX (or Upbit) refuses."""
    if price is None or price <= 0:
        raise PaperRefused("bad_price")
    if not bool(ticks.is_on_tick(float(price), rules.tick_regime)):
        raise PaperRefused("off_tick", symbol=rules.symbol, price=amount(price), tick=amount(tick_of(rules, price)),
                           below=amount(round_to_tick(rules, price, "down")),
                           above=amount(round_to_tick(rules, price, "up")))
    limits = price_limits(rules, previous_close)
    if limits and not limits[0] <= price <= limits[1]:
        assert previous_close is not None
        raise PaperRefused("outside_price_limit", symbol=rules.symbol, price=amount(price), lower=amount(limits[0]),
                           upper=amount(limits[1]), base=amount(previous_close))


def floor_to_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    return (quantity / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def check_quantity(rules: InstrumentRules, quantity: Decimal) -> None:
    """Raise ``bad_lot`` unless ``quantity`` is a positive multiple of the lot."""
    if quantity <= 0 or quantity % rules.lot_size != 0:
        raise PaperRefused("bad_lot", symbol=rules.symbol, quantity=amount(quantity), lot=amount(rules.lot_size))


def check_min_order_value(rules: InstrumentRules, quantity: Decimal, price: Decimal) -> None:
    """Raise ``below_min_order_value`` when ``quantity`` × ``price`` is under the instrument's minimum."""
    value = quantity * price
    if value < rules.min_order_value:
        raise PaperRefused("below_min_order_value", symbol=rules.symbol, value=amount(round_money(rules, value)),
                           minimum=amount(rules.min_order_value))


def check_cash(needed: Decimal, available: Decimal) -> None:
    if needed > available:
        raise PaperRefused("insufficient_cash", needed=amount(needed), available=amount(max(available, Decimal(0))))


def check_sellable(rules: InstrumentRules, quantity: Decimal, sellable: Decimal) -> None:
    if quantity > sellable:
        raise PaperRefused("insufficient_quantity", symbol=rules.symbol, available=amount(sellable),
                           quantity=amount(quantity))


# -- costs ----------------------------------------------------------------------------------------
def round_money(rules: InstrumentRules, value: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(rules.money_unit, rounding=rounding)


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
        return _dec(rate)

    def sell_tax_of(self, rules: InstrumentRules, value: Decimal, trade_day: dt.date) -> Decimal:
        return round_money(rules, value * self.sell_tax_rate(rules, trade_day), ROUND_FLOOR)

    def buy_reservation(self, rules: InstrumentRules, quantity: Decimal, price: Decimal) -> Decimal:
        """Cash held for a buy of ``quantity`` at up to ``price``: never less than its fill will cost."""
        value = quantity * price
        return round_money(rules, value, ROUND_CEILING) + round_money(rules, value * self.commission, ROUND_CEILING)


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
