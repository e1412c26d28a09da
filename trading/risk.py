"""Checks before an order: every rule an order must pass before any broker sees it.

Pure (no Django): dataclasses in, a ``CheckResult`` out. Every door uses it: the order ticket,
the API, strategies (through the order service) and the paper broker's book (which raises the
first failure, ``refuse_first``). The result lists **every** failed check, each a ``Failure`` with
a stable ``code``, the ``field`` it concerns (``symbol``, ``side``, ``quantity``, ``price``,
``order_type``; None for the whole order), an English message naming the rule and the numbers
(templates in ``MESSAGES``, marked with ``gettext_noop`` so ``makemessages`` finds them; the Django
side translates with ``Failure.message_in(gettext)``) and whether the caller may override it
(only ``duplicate_order``: pass ``confirm=True``).

Market rules (broker-apis.md D1-D3):

- **Sessions** from the platform calendar (``marketdata.calendars``: holidays, the first trading
  day's 10:00 open, the college entrance exam day). KRX takes orders from 08:30 to the session's
  close. ``PRE_OPEN`` (08:30 .. open) is the opening call auction, longer on a late-open day;
  ``CONTINUOUS`` (open .. close - 10 min); ``CLOSING_AUCTION`` (the last 10 minutes). IOC/FOK
  need continuous trading. KRW crypto pairs trade around the clock, every day.
- **Prices**: a limit price sits on the tick grid of its own band (``marketdata.ticks``) and, on
  KRX, inside ±30 % of the previous close (upper limit rounded down to its tick, lower up).
- **Quantities**: a positive multiple of the lot (1 share; 1e-8 for Upbit pairs), worth at least
  the instrument's minimum order value (Upbit 5,000 KRW; KRX none).
- **Instrument**: known to the instrument master, listed, not suspended.

Account rules (inputs the caller reads from the account, the user's settings and the switches):

- **Buying power**: cash less what open buys hold, against price × quantity + commission (rounded
  up). A market buy is valued at the upper price limit, as the brokers count it (crypto: at the
  newest price).
- **Sellable quantity**: holdings less what open sells already cover.
- **Maximum order value** per order (default ``DEFAULT_MAX_ORDER_VALUE``, 100,000,000 KRW) and
  **maximum position share** of the account (default 100 %, i.e. off). Both sides count for the
  order value; only a buy can raise a share. Values use the limit price, or for a market order the
  newest price (else the previous close). ``Limits.for_user`` applies a user's settings, which can
  only lower the platform defaults.
- **Duplicate-looking order**: the same symbol, side, quantity and price as one of the account's
  orders placed within ``duplicate_window`` (default 10 s): ``duplicate_order``, overridable.
- **Kill switches**: account, user, global; each on switch is its own failure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import ClassVar

from marketdata import ticks
from marketdata.calendars import CRYPTO_MARKETS, KRX_CLOSE, SEOUL, Session, calendar_for
from trading.brokers.base import OrderType, Refused, Side

ORDERS_FROM = dt.time(8, 30)  # the pre-open call auction starts taking orders
CLOSING_AUCTION = dt.timedelta(minutes=10)  # 15:20-15:30
PRICE_LIMIT = Decimal("0.30")  # ±30 % of the previous close (D3)
DEFAULT_COMMISSION = Decimal("0.00015")  # the engine's default (backtests.engine.costs.Costs)
KRX_MONEY_UNIT = Decimal(1)
CRYPTO_MONEY_UNIT = Decimal("0.0001")
DEFAULT_MAX_ORDER_VALUE = Decimal(100_000_000)  # KRW per order: a fat-finger guard, lowered per user
DEFAULT_MAX_POSITION_SHARE = Decimal(1)  # 100 % of the account: no cap unless the user sets one
DEFAULT_DUPLICATE_WINDOW = dt.timedelta(seconds=10)
ZERO = Decimal(0)


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
        "(the previous close, {base} KRW, ±30 %)."),
    "bad_lot": gettext_noop("{quantity} is not a valid quantity for {symbol}: use a positive multiple of {lot}."),
    "below_min_order_value": gettext_noop(
        "This order is worth {value} KRW; {symbol} needs at least {minimum} KRW per order."),
    "insufficient_cash": gettext_noop(
        "Not enough cash: this order needs {needed} KRW including commission, and {available} KRW is "
        "available for orders."),
    "insufficient_quantity": gettext_noop(
        "Not enough {symbol} to sell: {available} can be sold, the order is for {quantity}."),
    "unknown_symbol": gettext_noop("{symbol} is not a known instrument."),
    "halted": gettext_noop("{symbol} is not trading now (suspended or delisted)."),
    "delisted": gettext_noop("{symbol} is no longer listed, so it cannot be traded."),
    "no_market_price": gettext_noop(
        "There is no price for {symbol} yet, so a market order cannot be valued: use a limit order."),
    "above_max_order_value": gettext_noop(
        "This order is worth {value} KRW, above this account's maximum of {maximum} KRW per order."),
    "above_max_position_share": gettext_noop(
        "After this order {symbol} would be {share} % of this account ({value} of {total} KRW), above "
        "the maximum of {maximum} % per position."),
    "duplicate_order": gettext_noop(
        "An identical order ({quantity} {symbol}, same side and price) was placed {seconds} seconds ago in "
        "this account; confirm to place it again."),
    "kill_switch_account": gettext_noop(
        "Trading is stopped for this broker account (its kill switch is on): no new orders until it is released."),
    "kill_switch_user": gettext_noop(
        "Trading is stopped for all your accounts (your kill switch is on): no new orders until it is released."),
    "kill_switch_global": gettext_noop(
        "Trading is stopped on the whole platform by the administrators (global kill switch): "
        "no new orders until it is released."),
}


def amount(value: Decimal) -> str:
    """``1234567.5`` → ``1,234,567.5``: a number for a message, without trailing zeros."""
    return f"{value.normalize():,f}"


# -- results ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    """One failed check: ``code`` (a key of ``MESSAGES``), the ``field`` it concerns, the message's
    ``params`` (already formatted) and whether a caller may override it (``confirm=True``)."""

    code: str
    field: str | None
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    overridable: bool = False

    @property
    def message(self) -> str:
        return self.message_in(gettext_noop)

    def message_in(self, translate: Callable[[str], str]) -> str:
        """The message in the language ``translate`` (``gettext``) speaks."""
        return translate(MESSAGES[self.code]).format(**self.params)


class RiskRefused(Refused):
    """A failure raised: a stable ``code``, the ``field``, the message's ``params``. Subclasses may
    add codes of their own (``messages``)."""

    messages: ClassVar[Mapping[str, str]] = MESSAGES

    def __init__(self, code: str, *, translate: Callable[[str], str] | None = None, field: str | None = None,
                 overridable: bool = False, **params: str) -> None:
        super().__init__((translate or gettext_noop)(self.messages[code]).format(**params), code=code)
        self.params = params
        self.field = field
        self.overridable = overridable

    @classmethod
    def of(cls, failure: Failure, translate: Callable[[str], str] | None = None) -> RiskRefused:
        return cls(failure.code, translate=translate, field=failure.field, overridable=failure.overridable,
                   **failure.params)

    def localized(self, translate: Callable[[str], str]) -> RiskRefused:
        """The same refusal with its message in the language ``translate`` (``gettext``) speaks."""
        return type(self)(self.code, translate=translate, field=self.field, overridable=self.overridable,
                          **self.params)


def refuse_first(failures: Iterable[Failure], error: type[RiskRefused] = RiskRefused) -> None:
    """Raise the first of ``failures`` as ``error`` (a ``Refused``); nothing when there are none."""
    for failure in failures:
        raise error.of(failure)


# -- instruments and sessions -----------------------------------------------------------------------
@dataclass(frozen=True)
class InstrumentRules:
    """What the checks need to know about a symbol (from the instrument master)."""

    symbol: str
    market: str  # KOSPI, KOSDAQ, KONEX, CRYPTO
    tick_regime: str = "krx_stock"
    lot_size: Decimal = Decimal(1)
    min_order_value: Decimal = Decimal(0)
    halted: bool = False  # suspended (거래정지)
    listed: bool = True  # False once delisted

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


def session_failures(rules: InstrumentRules, order_type: OrderType, moment: MarketMoment,
                     now: dt.datetime) -> list[Failure]:
    """``market_closed`` outside the order window (naming the next chance), ``not_continuous`` for
    IOC/FOK outside continuous trading; ``moment`` is ``market_moment(rules.market, now)``."""
    if not moment.phase.accepts_orders:
        close = moment.session.close.time() if moment.session else KRX_CLOSE
        opens = _next_order_window(rules.market, now)
        return [Failure("market_closed", "symbol", {
            "symbol": rules.symbol, "start": ORDERS_FROM.strftime("%H:%M"), "end": close.strftime("%H:%M"),
            "next_open": opens.strftime("%Y-%m-%d %H:%M")})]
    immediate = order_type not in (OrderType.LIMIT, OrderType.MARKET)
    if immediate and moment.phase is not Phase.CONTINUOUS:
        assert moment.session is not None  # crypto is always continuous
        end = moment.session.close - CLOSING_AUCTION
        return [Failure("not_continuous", "order_type", {"start": moment.session.open.strftime("%H:%M"),
                                                         "end": end.strftime("%H:%M")})]
    return []


def instrument_failures(symbol: str, rules: InstrumentRules | None) -> list[Failure]:
    """``unknown_symbol`` (not in the master), ``delisted``, ``halted`` (suspended)."""
    if rules is None:
        return [Failure("unknown_symbol", "symbol", {"symbol": symbol})]
    if not rules.listed:
        return [Failure("delisted", "symbol", {"symbol": symbol})]
    if rules.halted:
        return [Failure("halted", "symbol", {"symbol": symbol})]
    return []


# -- prices and quantities --------------------------------------------------------------------------
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


def price_failures(rules: InstrumentRules, price: Decimal | None, previous_close: Decimal | None) -> list[Failure]:
    """``bad_price`` (none or not above zero), else ``off_tick`` and ``outside_price_limit``."""
    if price is None or price <= 0:
        return [Failure("bad_price", "price")]
    failures = []
    if not bool(ticks.is_on_tick(float(price), rules.tick_regime)):
        failures.append(Failure("off_tick", "price", {
            "symbol": rules.symbol, "price": amount(price), "tick": amount(tick_of(rules, price)),
            "below": amount(round_to_tick(rules, price, "down")), "above": amount(round_to_tick(rules, price, "up"))}))
    limits = price_limits(rules, previous_close)
    if limits and not limits[0] <= price <= limits[1]:
        assert previous_close is not None
        failures.append(Failure("outside_price_limit", "price", {
            "symbol": rules.symbol, "price": amount(price), "lower": amount(limits[0]), "upper": amount(limits[1]),
            "base": amount(previous_close)}))
    return failures


def floor_to_lot(quantity: Decimal, lot: Decimal) -> Decimal:
    return (quantity / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def quantity_failures(rules: InstrumentRules, quantity: Decimal) -> list[Failure]:
    """``bad_lot`` unless ``quantity`` is a positive multiple of the lot."""
    if quantity <= 0 or quantity % rules.lot_size != 0:
        return [Failure("bad_lot", "quantity", {"symbol": rules.symbol, "quantity": amount(quantity),
                                                "lot": amount(rules.lot_size)})]
    return []


def round_money(rules: InstrumentRules, value: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(rules.money_unit, rounding=rounding)


def min_value_failures(rules: InstrumentRules, quantity: Decimal, price: Decimal) -> list[Failure]:
    """``below_min_order_value`` when ``quantity`` × ``price`` is under the instrument's minimum."""
    value = quantity * price
    if value < rules.min_order_value:
        return [Failure("below_min_order_value", "quantity", {"symbol": rules.symbol,
                                                              "value": amount(round_money(rules, value)),
                                                              "minimum": amount(rules.min_order_value)})]
    return []


def buy_reservation(rules: InstrumentRules, quantity: Decimal, price: Decimal, commission_rate: Decimal) -> Decimal:
    """Cash a buy of ``quantity`` at up to ``price`` holds: value and commission, each rounded up to
    the market's money unit, so never less than its fill will cost."""
    value = quantity * price
    return round_money(rules, value, ROUND_CEILING) + round_money(rules, value * commission_rate, ROUND_CEILING)


def cash_failures(needed: Decimal, available: Decimal) -> list[Failure]:
    """``insufficient_cash`` when a buy ``needed`` more than the cash ``available`` for orders."""
    if needed > available:
        return [Failure("insufficient_cash", "quantity", {"needed": amount(needed),
                                                          "available": amount(max(available, ZERO))})]
    return []


def sellable_failures(rules: InstrumentRules, quantity: Decimal, sellable: Decimal) -> list[Failure]:
    """``insufficient_quantity`` when a sell is for more than can be sold."""
    if quantity > sellable:
        return [Failure("insufficient_quantity", "quantity", {"symbol": rules.symbol,
                                                              "available": amount(max(sellable, ZERO)),
                                                              "quantity": amount(quantity)})]
    return []


# -- the order and the account ----------------------------------------------------------------------
def _decimal(value: Decimal | int | str | None) -> Decimal | None:
    """Decimal from a Decimal, int or str; a float is refused (it would carry binary noise)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("use Decimal, int or str for money and quantities, not float")
    return Decimal(value)


@dataclass(frozen=True)
class OrderIntent:
    """The order a door wants to place (``price`` only for limit types)."""

    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.LIMIT
    price: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "order_type", OrderType(self.order_type))
        object.__setattr__(self, "quantity", _decimal(self.quantity))
        object.__setattr__(self, "price", _decimal(self.price) if self.order_type.needs_price else None)


@dataclass(frozen=True)
class MarketState:
    """Prices of the symbol: the previous close (the base of KRX's limits) and the newest price."""

    previous_close: Decimal | None = None
    last_price: Decimal | None = None


@dataclass(frozen=True)
class AccountState:
    """The account as the checks see it (KRW amounts; mappings by symbol).

    ``cash`` counts what open buys hold, ``open_buys_reserved`` is that part (a broker's "orderable
    cash" already excludes it: pass it as ``cash`` with 0 reserved). ``open_sells`` is what open
    sell orders already cover of ``holdings``. ``position_values`` is the market value of each
    holding (for the position share). ``commission_rate`` is the account's, per side.
    """

    cash: Decimal
    open_buys_reserved: Decimal = ZERO
    holdings: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    open_sells: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    position_values: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    commission_rate: Decimal = DEFAULT_COMMISSION

    @property
    def available_cash(self) -> Decimal:
        return self.cash - self.open_buys_reserved

    @property
    def total_value(self) -> Decimal:
        """Cash and the value of every holding: the base of a position's share."""
        return self.cash + sum(self.position_values.values(), ZERO)

    def sellable(self, symbol: str) -> Decimal:
        return self.holdings.get(symbol, ZERO) - self.open_sells.get(symbol, ZERO)


@dataclass(frozen=True)
class Limits:
    """The account's caps. ``max_position_share`` is a fraction (0.2 = 20 %), 1 means no cap."""

    max_order_value: Decimal = DEFAULT_MAX_ORDER_VALUE
    max_position_share: Decimal = DEFAULT_MAX_POSITION_SHARE
    duplicate_window: dt.timedelta = DEFAULT_DUPLICATE_WINDOW

    def __post_init__(self) -> None:
        if self.max_order_value <= 0 or not 0 < self.max_position_share <= 1:
            raise ValueError("max_order_value must be above 0 and max_position_share in (0, 1]")

    @classmethod
    def for_user(cls, *, max_order_value: Decimal | None = None, max_position_share: Decimal | None = None,
                 duplicate_window: dt.timedelta = DEFAULT_DUPLICATE_WINDOW) -> Limits:
        """The limits of a user's settings (None: not set). A setting can only lower the default."""
        return cls(min(max_order_value or DEFAULT_MAX_ORDER_VALUE, DEFAULT_MAX_ORDER_VALUE),
                   min(max_position_share or DEFAULT_MAX_POSITION_SHARE, DEFAULT_MAX_POSITION_SHARE),
                   duplicate_window)


@dataclass(frozen=True)
class RecentOrder:
    """One of the account's recent orders, for the duplicate check (the caller picks which count:
    e.g. every order written to the ledger, or all but those the broker rejected)."""

    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal | None  # None for a market order
    placed_at: dt.datetime


@dataclass(frozen=True)
class KillSwitches:
    """Which kill switches are on for this order's broker account, its owner, the whole platform."""

    account: bool = False
    user: bool = False
    platform: bool = False  # the global switch (admins only)


@dataclass(frozen=True)
class CheckResult:
    """Every failed check of one order (empty: it may go), and the market moment when known."""

    failures: tuple[Failure, ...] = ()
    moment: MarketMoment | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def needs_confirmation(self) -> bool:
        """Only overridable checks failed: the same order with ``confirm=True`` would pass."""
        return bool(self.failures) and all(failure.overridable for failure in self.failures)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(failure.code for failure in self.failures)

    def on(self, field: str | None) -> list[Failure]:
        """The failures about ``field`` (None: about the whole order)."""
        return [failure for failure in self.failures if failure.field == field]

    def raise_first(self, error: type[RiskRefused] = RiskRefused) -> None:
        """Raise the first failure as ``error`` (a ``Refused``); nothing when the order passed."""
        refuse_first(self.failures, error)


# -- account rules ---------------------------------------------------------------------------------
def kill_switch_failures(switches: KillSwitches) -> list[Failure]:
    """One failure per switch that is on, the widest first."""
    on = [("kill_switch_global", switches.platform), ("kill_switch_user", switches.user),
          ("kill_switch_account", switches.account)]
    return [Failure(code, None) for code, is_on in on if is_on]


def max_order_value_failures(rules: InstrumentRules, value: Decimal, limits: Limits) -> list[Failure]:
    """``above_max_order_value`` when the order is worth more than the account allows."""
    if value > limits.max_order_value:
        return [Failure("above_max_order_value", "quantity", {"value": amount(round_money(rules, value)),
                                                              "maximum": amount(limits.max_order_value)})]
    return []


def _percent(share: Decimal) -> str:
    return amount((share * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def position_share_failures(rules: InstrumentRules, value: Decimal, account: AccountState,
                            limits: Limits) -> list[Failure]:
    """``above_max_position_share`` when a buy worth ``value`` would make the symbol's holding more
    than ``limits.max_position_share`` of the account's total value."""
    total = account.total_value
    if limits.max_position_share >= 1 or total <= 0:
        return []
    after = account.position_values.get(rules.symbol, ZERO) + value
    if after / total > limits.max_position_share:
        return [Failure("above_max_position_share", "quantity", {
            "symbol": rules.symbol, "share": _percent(after / total), "value": amount(round_money(rules, after)),
            "total": amount(round_money(rules, total)), "maximum": _percent(limits.max_position_share)})]
    return []


def duplicate_failures(intent: OrderIntent, recent_orders: Sequence[RecentOrder], window: dt.timedelta,
                       now: dt.datetime) -> list[Failure]:
    """``duplicate_order`` (overridable) when one of the account's orders placed within ``window``
    before ``now`` has the same symbol, side, quantity and price (both market, or the same limit)."""
    same = [order.placed_at for order in recent_orders
            if (order.symbol, Side(order.side), order.quantity, order.price)
            == (intent.symbol, intent.side, intent.quantity, intent.price) and now - order.placed_at <= window]
    if not same:
        return []
    seconds = max(int((now - max(same)).total_seconds()), 0)
    return [Failure("duplicate_order", None, {"symbol": intent.symbol, "quantity": amount(intent.quantity),
                                              "seconds": str(seconds)}, overridable=True)]


# -- one order ------------------------------------------------------------------------------------
def order_prices(rules: InstrumentRules, intent: OrderIntent, market: MarketState) -> tuple[Decimal, Decimal] | None:
    """(value price, reserve price) of an order: a limit order's own price twice; a market order is
    valued at the newest price (else the previous close) and a buy held at the upper price limit
    (crypto, or without a previous close: the newest price). None when a market order has no price."""
    if intent.order_type.needs_price:
        return (intent.price, intent.price) if intent.price and intent.price > 0 else None
    newest = market.last_price or market.previous_close
    if not newest:
        return None
    limits = price_limits(rules, market.previous_close)
    return newest, limits[1] if limits else newest


def _market_failures(rules: InstrumentRules, intent: OrderIntent, market: MarketState,
                     moment: MarketMoment, now: dt.datetime) -> list[Failure]:
    failures = session_failures(rules, intent.order_type, moment, now)
    failures += quantity_failures(rules, intent.quantity)
    if intent.order_type.needs_price:
        failures += price_failures(rules, intent.price, market.previous_close)
    elif order_prices(rules, intent, market) is None:
        failures.append(Failure("no_market_price", "order_type", {"symbol": rules.symbol}))
    return failures


def _money_failures(rules: InstrumentRules, intent: OrderIntent, market: MarketState, account: AccountState,
                    limits: Limits) -> list[Failure]:
    prices = order_prices(rules, intent, market)
    if prices is None or intent.quantity <= 0:
        return []  # nothing to value: the price or quantity failure says why
    value_price, reserve_price = prices
    value = intent.quantity * value_price
    failures = min_value_failures(rules, intent.quantity, value_price)
    failures += max_order_value_failures(rules, value, limits)
    if intent.side is Side.SELL:
        return failures + sellable_failures(rules, intent.quantity, account.sellable(rules.symbol))
    needed = buy_reservation(rules, intent.quantity, reserve_price, account.commission_rate)
    failures += cash_failures(needed, account.available_cash)
    return failures + position_share_failures(rules, value, account, limits)


def check_order(intent: OrderIntent, *, instrument: InstrumentRules | None, market: MarketState,
                account: AccountState, now: dt.datetime, limits: Limits = Limits(),
                recent_orders: Sequence[RecentOrder] = (), kill_switches: KillSwitches = KillSwitches(),
                confirm: bool = False) -> CheckResult:
    """Every check of ``intent`` at the aware instant ``now``; the result lists each failure.

    ``instrument`` is None for a symbol the instrument master does not know (then only the kill
    switches and the duplicate check run besides). ``recent_orders`` are the account's own.
    ``confirm`` overrides the duplicate check (the user confirmed, or the API got ``confirm: true``).
    Raises ValueError when ``instrument`` is another symbol's.
    """
    if instrument is not None and instrument.symbol != intent.symbol:
        raise ValueError(f"the rules of {instrument.symbol} were given for an order of {intent.symbol}")
    failures = kill_switch_failures(kill_switches) + instrument_failures(intent.symbol, instrument)
    moment = None
    if instrument is not None:
        moment = market_moment(instrument.market, now)
        failures += _market_failures(instrument, intent, market, moment, now)
        failures += _money_failures(instrument, intent, market, account, limits)
    if not confirm:
        failures += duplicate_failures(intent, recent_orders, limits.duplicate_window, now)
    return CheckResult(tuple(failures), moment)
