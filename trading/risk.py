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

Conflict guard (the section of that name below): pure rules over the live-trading intents of one
decision time, across every deployment of the platform. Each rule returns a ``GuardVerdict``:
passed, trimmed (the new ``quantity``, whole lots) or blocked, with the ``Failure`` that says why
(code, field, message naming the rule and the numbers). Rules, in the order applied:

1. **Symbol owner** ``symbol_owner(intent, claims, buckets)``: one owner per (account, symbol); an
   intent (buy or sell) on a symbol another deployment of the account owns (its claim) or holds is
   blocked, naming that deployment.
2. **Capital bucket** ``capital_bucket(intent, bucket, spent)``: a buy spends only what is left of
   its deployment's allotment (allotment − cost of its open positions − open buys − earlier buys
   of this decision); trimmed to fit, blocked when not one lot fits. Beside it, for allotments:
   ``allotment_failures(capital=, allotted=, equity=)`` (the sum of an account's allotments never
   exceeds its equity when one is made) and ``buckets_rescale(allotments, held, equity)`` (after a
   loss, buckets shrink in proportion to equity, never below what each holds).
3. **The user's spread** (``SpreadRules``, percents of the user's equity; None: no limit):
   ``daily_loss_limit`` (today's loss reached the limit: every buy blocked, and the caller pauses
   all the user's deployments: ``daily_loss_users(context)``), ``max_symbols_held`` (a buy of one
   more symbol past the most allowed is blocked), ``symbol_share`` and ``sector_share`` (a buy
   trimmed to fit the share of equity in one symbol or sector, blocked when nothing fits).
4. **Platform cap** ``platform_cap(intents_for_symbol, adv, share)``: the platform's total order
   value in one symbol at one decision time is at most ``share`` (default 1 %) of the symbol's
   average daily traded value; buys that want more share it pro rata (cap × want / total want,
   rounded down to lots), in one step over every deployment's intents for that symbol.

Sells meet only the owner rule (exits must be able to leave). The entry point applies them all:
``guard_intents(intents: Sequence[GuardIntent], context: GuardContext) -> list[GuardVerdict]``.
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


# == Conflict guard ================================================================================
# Pure rules over the live-trading intents of one decision time (see the module docstring's
# "Conflict guard" part for the rules, their order and the signatures).
DEFAULT_PLATFORM_SHARE = Decimal("0.01")  # 1 % of a symbol's average daily traded value per decision time
DEFAULT_ADV_DAYS = 20  # the days the average daily traded value is taken over
HUNDRED = Decimal(100)
WON = Decimal(1)

MESSAGES.update({
    "symbol_owner": gettext_noop(
        "{symbol} in this account belongs to your deployment “{name}”: one deployment per symbol and account, "
        "so this one does not trade it."),
    "capital_bucket": gettext_noop(
        "This deployment's capital is {allotment} KRW and {used} KRW of it is in positions and open buys, so "
        "{left} KRW is left: {allowed} of the {wanted} {symbol} wanted fit at {price} KRW."),
    "daily_loss_limit": gettext_noop(
        "Today's loss is {loss} KRW, {share} of your equity at the start of the day ({equity} KRW), past your "
        "daily loss limit of {maximum}: no new buys today, and your deployments are paused."),
    "max_symbols": gettext_noop(
        "You already hold {held} symbols, the most your risk settings allow ({maximum}): {symbol} would be one "
        "more, so it is not bought."),
    "symbol_share": gettext_noop(
        "Your limit in one symbol is {maximum} of your equity ({limit} of {equity} KRW); {symbol} already takes "
        "{used} KRW, so {allowed} of the {wanted} wanted fit at {price} KRW."),
    "sector_share": gettext_noop(
        "Your limit in one sector is {maximum} of your equity ({limit} of {equity} KRW); {sector} already takes "
        "{used} KRW, so {allowed} of the {wanted} {symbol} wanted fit at {price} KRW."),
    "platform_cap": gettext_noop(
        "The platform's orders in {symbol} at one time are capped at {maximum} of its average daily traded "
        "value ({cap} of {adv} KRW); this decision's orders want {total} KRW, so each gets its fair share: "
        "{allowed} of the {wanted} wanted."),
    "allotment_over_equity": gettext_noop(
        "The account's equity is {equity} KRW and {allotted} KRW of it is already allotted to other deployments: "
        "at most {free} KRW is left."),
})


def _won(value: Decimal) -> str:
    return amount(value.quantize(WON, rounding=ROUND_HALF_UP))


class VerdictKind(enum.StrEnum):
    """The guard's decision on one intent (the values of ``trading.live.models.Verdict``)."""

    PASSED = "passed"
    TRIMMED = "trimmed"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class GuardIntent:
    """What one deployment wants to order at this decision time (``sector`` "" when unknown)."""

    deployment_id: int
    user_id: int
    account_id: int
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal  # the price it was sized with (KRW)
    lot: Decimal = Decimal(1)
    sector: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        for name in ("quantity", "price", "lot"):
            object.__setattr__(self, name, _decimal(getattr(self, name)))
        if self.quantity < 0 or self.price <= 0 or self.lot <= 0:
            raise ValueError("a guard intent needs a quantity of 0 or more, a price and a lot above 0")

    @property
    def value(self) -> Decimal:
        return self.quantity * self.price


@dataclass(frozen=True)
class GuardVerdict:
    """The guard's decision on ``intent``: ``quantity`` is what may be sent (the intent's when passed,
    less when trimmed, 0 when blocked); ``failures`` every rule that trimmed or blocked it, in the
    order applied; ``code`` and ``message`` are the last one's (the deciding rule)."""

    intent: GuardIntent
    verdict: VerdictKind
    quantity: Decimal
    failures: tuple[Failure, ...] = ()

    @classmethod
    def of(cls, intent: GuardIntent, quantity: Decimal, failure: Failure | None = None) -> GuardVerdict:
        """The verdict of one rule that allows ``quantity`` of ``intent`` (``failure`` says why less)."""
        quantity = max(min(quantity, intent.quantity), ZERO)
        if failure is None or quantity >= intent.quantity:
            return cls(intent, VerdictKind.PASSED, intent.quantity)
        kind = VerdictKind.TRIMMED if quantity > 0 else VerdictKind.BLOCKED
        return cls(intent, kind, quantity, (failure,))

    def then(self, later: GuardVerdict) -> GuardVerdict:
        """This verdict followed by ``later``'s, a rule applied to what this one allowed."""
        if not later.failures and later.quantity >= self.quantity:
            return self
        failures = self.failures + later.failures
        quantity = min(later.quantity, self.quantity)
        if quantity >= self.intent.quantity:
            kind = VerdictKind.PASSED
        else:
            kind = VerdictKind.TRIMMED if quantity > 0 else VerdictKind.BLOCKED
        return GuardVerdict(self.intent, kind, quantity, failures)

    @property
    def allowed(self) -> GuardIntent:
        """The intent with the quantity this verdict allows (what the next rule sees)."""
        if self.quantity == self.intent.quantity:
            return self.intent
        return dataclasses.replace(self.intent, quantity=self.quantity)

    @property
    def code(self) -> str:
        return self.failures[-1].code if self.failures else ""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(failure.code for failure in self.failures)

    @property
    def message(self) -> str:
        return self.message_in(gettext_noop)

    def message_in(self, translate: Callable[[str], str]) -> str:
        return self.failures[-1].message_in(translate) if self.failures else ""


@dataclass(frozen=True)
class SymbolOwner:
    """The deployment that owns a symbol in an account (its ``SymbolClaim``)."""

    deployment_id: int
    name: str


@dataclass(frozen=True)
class Bucket:
    """A deployment's capital bucket (KRW): its ``allotment``, what its open positions cost
    (``invested``), what its open buy orders may still spend (``open_buys``), and the quantity it
    holds per symbol (``held``: the owner rule counts a holding as ownership)."""

    account_id: int
    allotment: Decimal
    invested: Decimal = ZERO
    open_buys: Decimal = ZERO
    name: str = ""
    held: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)

    @property
    def left(self) -> Decimal:
        return self.allotment - self.invested - self.open_buys


@dataclass(frozen=True)
class UserBook:
    """A user's money across their accounts: ``equity`` (KRW, now) and the market value of what
    they hold (and open buys will add) per symbol, with each held symbol's sector when known."""

    equity: Decimal = ZERO
    values: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    sectors: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class SpreadRules:
    """A user's spread rules, as ``RiskSettings`` stores them: shares in percent (20 = 20 %) of
    the user's equity; None: no limit of that kind."""

    max_symbol_share: Decimal | None = None
    max_sector_share: Decimal | None = None
    max_symbols: int | None = None
    daily_loss_limit: Decimal | None = None  # percent of the day's starting equity

    FIELDS: ClassVar[tuple[str, ...]] = ("max_symbol_share", "max_sector_share", "max_symbols", "daily_loss_limit")

    @classmethod
    def of(cls, settings: object | None) -> SpreadRules:
        """The rules of any object with the four fields (a ``RiskSettings`` row); None: no limits."""
        if settings is None:
            return cls()
        return cls(**{name: getattr(settings, name) for name in cls.FIELDS})


@dataclass(frozen=True)
class GuardContext:
    """Everything the guard reads at one decision time (mappings keyed as named; all optional).

    ``claims``: (account id, symbol) → owner. ``buckets``: deployment id → its bucket (a buy of a
    deployment without one is blocked: nothing is allotted). ``books``, ``rules``, ``pnl_today``:
    user id → their book, spread rules and today's P&L (KRW, a loss is negative). ``adv``: symbol →
    average daily traded value (KRW, over ``DEFAULT_ADV_DAYS``). ``platform_share``: the platform
    cap as a fraction (0.01 = 1 %); None: no cap.
    """

    claims: Mapping[tuple[int, str], SymbolOwner] = dataclasses.field(default_factory=dict)
    buckets: Mapping[int, Bucket] = dataclasses.field(default_factory=dict)
    books: Mapping[int, UserBook] = dataclasses.field(default_factory=dict)
    rules: Mapping[int, SpreadRules] = dataclasses.field(default_factory=dict)
    pnl_today: Mapping[int, Decimal] = dataclasses.field(default_factory=dict)
    adv: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    platform_share: Decimal | None = DEFAULT_PLATFORM_SHARE


def _fit(intent: GuardIntent, budget: Decimal) -> Decimal:
    """Whole lots of ``intent`` that ``budget`` (KRW) pays for, at most the intent's quantity."""
    if budget <= 0:
        return ZERO
    return min(floor_to_lot(budget / intent.price, intent.lot), intent.quantity)


def _numbers(intent: GuardIntent, allowed: Decimal) -> dict[str, str]:
    return {"symbol": intent.symbol, "allowed": amount(allowed), "wanted": amount(intent.quantity),
            "price": amount(intent.price)}


# -- rule 1: one owner per (account, symbol) ----------------------------------------------------------
def symbol_holders(buckets: Mapping[int, Bucket]) -> dict[tuple[int, str], list[SymbolOwner]]:
    """(account, symbol) → the deployments holding it (by their buckets' ``held``)."""
    holders: dict[tuple[int, str], list[SymbolOwner]] = {}
    for deployment_id, bucket in buckets.items():
        for symbol, quantity in bucket.held.items():
            if quantity > 0:
                holders.setdefault((bucket.account_id, symbol), []).append(SymbolOwner(deployment_id, bucket.name))
    return holders


def symbol_owner(intent: GuardIntent, claims: Mapping[tuple[int, str], SymbolOwner],
                 buckets: Mapping[int, Bucket] | None = None, *,
                 holders: Mapping[tuple[int, str], Sequence[SymbolOwner]] | None = None) -> GuardVerdict:
    """Blocked (``symbol_owner``, buys and sells alike) when another deployment of the intent's
    account owns the symbol (its claim) or, unclaimed, holds it while this one does not; the message
    names that deployment. ``holders`` is ``symbol_holders(buckets)`` computed once (else from
    ``buckets``)."""
    key = (intent.account_id, intent.symbol)
    owner = claims.get(key)
    if owner is None:
        held_by = (holders if holders is not None else symbol_holders(buckets or {})).get(key, ())
        if all(holder.deployment_id != intent.deployment_id for holder in held_by):
            owner = next(iter(held_by), None)
    if owner is None or owner.deployment_id == intent.deployment_id:
        return GuardVerdict.of(intent, intent.quantity)
    return GuardVerdict.of(intent, ZERO, Failure("symbol_owner", "symbol", {"symbol": intent.symbol,
                                                                          "name": owner.name}))


# -- rule 2: capital buckets ----------------------------------------------------------------------------
def capital_bucket(intent: GuardIntent, bucket: Bucket | None, spent: Decimal = ZERO) -> GuardVerdict:
    """A buy spends only what is left of the deployment's allotment (less ``spent``: what its earlier
    buys of this decision took): trimmed to the whole lots that fit, blocked when not one does
    (``capital_bucket``). No bucket: nothing is allotted. Sells pass."""
    if intent.side is Side.SELL:
        return GuardVerdict.of(intent, intent.quantity)
    bucket = bucket or Bucket(account_id=intent.account_id, allotment=ZERO)
    left = bucket.left - spent
    allowed = _fit(intent, left)
    if allowed >= intent.quantity:
        return GuardVerdict.of(intent, allowed)
    return GuardVerdict.of(intent, allowed, Failure("capital_bucket", "quantity", {
        **_numbers(intent, allowed), "allotment": _won(bucket.allotment),
        "used": _won(bucket.allotment - left), "left": _won(max(left, ZERO))}))


def allotment_failures(*, capital: Decimal, allotted: Decimal, equity: Decimal) -> list[Failure]:
    """``allotment_over_equity`` when allotting ``capital`` beside what the account's other active
    deployments already have (``allotted``) would exceed the account's ``equity``."""
    if allotted + capital <= equity:
        return []
    return [Failure("allotment_over_equity", "capital", {"equity": _won(equity), "allotted": _won(allotted),
                                                         "free": _won(max(equity - allotted, ZERO))})]


def buckets_rescale(allotments: Mapping[int, Decimal], held: Mapping[int, Decimal],
                    equity: Decimal) -> dict[int, Decimal]:
    """The allotments after the account's ``equity`` fell below their sum: each shrinks in proportion
    (whole KRW, rounded down), never below what its deployment holds (``held``, KRW; then the others
    shrink more so the sum meets the equity when it can). Never grows one: when the sum fits, the
    allotments come back unchanged."""
    if sum(allotments.values(), ZERO) <= equity:
        return dict(allotments)
    floors = {key: min(max(held.get(key, ZERO), ZERO), allotment) for key, allotment in allotments.items()}
    fixed: dict[int, Decimal] = {}
    while True:
        free = [key for key in allotments if key not in fixed]
        base = sum((allotments[key] for key in free), ZERO)
        factor = max(equity - sum(fixed.values(), ZERO), ZERO) / base if base > 0 else ZERO
        pinned = [key for key in free if allotments[key] * factor < floors[key]]
        if not pinned:
            break
        fixed.update({key: floors[key] for key in pinned})
    scaled = {key: max((allotments[key] * factor).to_integral_value(rounding=ROUND_FLOOR), floors[key])
              for key in allotments if key not in fixed}
    return {key: fixed.get(key, scaled.get(key)) for key in allotments}


# -- rule 3: the user's spread ----------------------------------------------------------------------
def daily_loss_breached(rules: SpreadRules, equity: Decimal, pnl_today: Decimal) -> bool:
    """Today's loss reached the daily loss limit, a percent of the day's starting equity
    (``equity`` now less today's P&L)."""
    loss = -pnl_today
    if rules.daily_loss_limit is None or loss <= 0:
        return False
    start = equity - pnl_today
    return start <= 0 or loss >= start * rules.daily_loss_limit / HUNDRED


def daily_loss_limit(intent: GuardIntent, rules: SpreadRules, equity: Decimal, pnl_today: Decimal) -> GuardVerdict:
    """Every buy blocked (``daily_loss_limit``) once today's loss reached the limit: the caller then
    pauses all the user's deployments. Sells pass."""
    if intent.side is Side.SELL or not daily_loss_breached(rules, equity, pnl_today):
        return GuardVerdict.of(intent, intent.quantity)
    start = equity - pnl_today
    share = -pnl_today / start if start > 0 else Decimal(1)
    return GuardVerdict.of(intent, ZERO, Failure("daily_loss_limit", None, {
        "loss": _won(-pnl_today), "share": f"{_percent(share)} %", "equity": _won(start),
        "maximum": f"{amount(rules.daily_loss_limit)} %"}))


def max_symbols_held(intent: GuardIntent, rules: SpreadRules, held: Iterable[str]) -> GuardVerdict:
    """A buy of a symbol the user does not hold is blocked (``max_symbols``) when they already hold
    the most symbols their rules allow (``held``: the symbols held, and bought earlier this decision)."""
    held = set(held)
    if intent.side is Side.SELL or rules.max_symbols is None or intent.symbol in held \
            or len(held) < rules.max_symbols:
        return GuardVerdict.of(intent, intent.quantity)
    return GuardVerdict.of(intent, ZERO, Failure("max_symbols", "symbol", {
        "symbol": intent.symbol, "held": str(len(held)), "maximum": str(rules.max_symbols)}))


def _share_rule(intent: GuardIntent, code: str, maximum: Decimal | None, equity: Decimal, used: Decimal,
                **params: str) -> GuardVerdict:
    if intent.side is Side.SELL or maximum is None:
        return GuardVerdict.of(intent, intent.quantity)
    limit = max(equity, ZERO) * maximum / HUNDRED
    allowed = _fit(intent, limit - used)
    if allowed >= intent.quantity:
        return GuardVerdict.of(intent, allowed)
    return GuardVerdict.of(intent, allowed, Failure(code, "quantity", {
        **_numbers(intent, allowed), "maximum": f"{amount(maximum)} %", "limit": _won(limit),
        "equity": _won(max(equity, ZERO)), "used": _won(used), **params}))


def symbol_share(intent: GuardIntent, rules: SpreadRules, equity: Decimal, used: Decimal) -> GuardVerdict:
    """A buy trimmed so the user's value in the symbol (``used``: held, open buys and this
    decision's earlier buys) stays within ``max_symbol_share`` % of ``equity``; blocked when not one
    lot fits (``symbol_share``). Sells pass."""
    return _share_rule(intent, "symbol_share", rules.max_symbol_share, equity, used)


def sector_share(intent: GuardIntent, rules: SpreadRules, equity: Decimal, used: Decimal) -> GuardVerdict:
    """As ``symbol_share`` for the intent's sector (``used``: the user's value in that sector) and
    ``max_sector_share`` (``sector_share``); an intent of no known sector passes."""
    if not intent.sector:
        return GuardVerdict.of(intent, intent.quantity)
    return _share_rule(intent, "sector_share", rules.max_sector_share, equity, used, sector=intent.sector)


# -- rule 4: the platform cap per symbol --------------------------------------------------------------
def platform_cap(intents_for_symbol: Sequence[GuardIntent], adv: Decimal | None,
                 share: Decimal | None) -> list[GuardVerdict]:
    """One verdict per intent (same order) for every deployment's intents in ONE symbol at one
    decision time: their total order value is capped at ``share`` (a fraction) of the symbol's
    average daily traded value ``adv``. Sells are never cut but use the cap first; when the buys
    want more than is left, each buy gets its fair share, cap left × its value / all buys' value,
    rounded down to whole lots (so the shares sum within the cap; what rounding leaves is unused).
    No ``adv`` or ``share``: no cap. Raises ValueError for intents of several symbols."""
    if len({intent.symbol for intent in intents_for_symbol}) > 1:
        raise ValueError("platform_cap takes the intents of one symbol")
    passed = [GuardVerdict.of(intent, intent.quantity) for intent in intents_for_symbol]
    if adv is None or share is None or not intents_for_symbol:
        return passed
    cap = max(adv, ZERO) * share
    sold = sum((intent.value for intent in intents_for_symbol if intent.side is Side.SELL), ZERO)
    wanted = sum((intent.value for intent in intents_for_symbol if intent.side is Side.BUY), ZERO)
    if sold + wanted <= cap:
        return passed
    room = max(cap - sold, ZERO)
    verdicts = []
    for intent in intents_for_symbol:
        if intent.side is Side.SELL or intent.quantity == 0:
            verdicts.append(GuardVerdict.of(intent, intent.quantity))
            continue
        allowed = _fit(intent, room * intent.value / wanted)
        verdicts.append(GuardVerdict.of(intent, allowed, Failure("platform_cap", "quantity", {
            **_numbers(intent, allowed), "maximum": f"{_percent(share)} %", "cap": _won(cap), "adv": _won(adv),
            "total": _won(sold + wanted)})))
    return verdicts


# -- all rules, one decision time ------------------------------------------------------------------
@dataclass
class _Spent:
    """What the buys passed so far in this decision add: per deployment (KRW), per user and symbol,
    per user and sector (KRW), and the symbols each user now holds or buys."""

    bucket: dict[int, Decimal] = dataclasses.field(default_factory=dict)
    symbol: dict[tuple[int, str], Decimal] = dataclasses.field(default_factory=dict)
    sector: dict[tuple[int, str], Decimal] = dataclasses.field(default_factory=dict)
    held: dict[int, set[str]] = dataclasses.field(default_factory=dict)


def _holding(user_id: int, book: UserBook, spent: _Spent) -> set[str]:
    if user_id not in spent.held:
        spent.held[user_id] = {symbol for symbol, value in book.values.items() if value > 0}
    return spent.held[user_id]


def _sector_used(intent: GuardIntent, book: UserBook, spent: _Spent) -> Decimal:
    held = sum((value for symbol, value in book.values.items() if book.sectors.get(symbol) == intent.sector), ZERO)
    return held + spent.sector.get((intent.user_id, intent.sector), ZERO)


def _guard_one(intent: GuardIntent, context: GuardContext,
               holders: Mapping[tuple[int, str], Sequence[SymbolOwner]], spent: _Spent) -> GuardVerdict:
    """Rules 1-3 for one intent, each on what the previous allowed; a buy that passes (or is
    trimmed) is added to ``spent``."""
    verdict = symbol_owner(intent, context.claims, holders=holders)
    if verdict.verdict is VerdictKind.BLOCKED or intent.side is Side.SELL:
        return verdict
    user = intent.user_id
    book = context.books.get(user, UserBook())
    rules = context.rules.get(user, SpreadRules())
    symbol_used = book.values.get(intent.symbol, ZERO) + spent.symbol.get((user, intent.symbol), ZERO)
    steps: list[Callable[[GuardIntent], GuardVerdict]] = [
        lambda allowed: capital_bucket(allowed, context.buckets.get(intent.deployment_id),
                                       spent.bucket.get(intent.deployment_id, ZERO)),
        lambda allowed: daily_loss_limit(allowed, rules, book.equity, context.pnl_today.get(user, ZERO)),
        lambda allowed: max_symbols_held(allowed, rules, _holding(user, book, spent)),
        lambda allowed: symbol_share(allowed, rules, book.equity, symbol_used),
        lambda allowed: sector_share(allowed, rules, book.equity, _sector_used(intent, book, spent)),
    ]
    for step in steps:
        verdict = verdict.then(step(verdict.allowed))
        if verdict.verdict is VerdictKind.BLOCKED:
            return verdict
    value = verdict.quantity * intent.price
    spent.bucket[intent.deployment_id] = spent.bucket.get(intent.deployment_id, ZERO) + value
    spent.symbol[(user, intent.symbol)] = spent.symbol.get((user, intent.symbol), ZERO) + value
    if intent.sector:
        spent.sector[(user, intent.sector)] = spent.sector.get((user, intent.sector), ZERO) + value
    _holding(user, book, spent).add(intent.symbol)
    return verdict


def guard_intents(intents: Sequence[GuardIntent], context: GuardContext) -> list[GuardVerdict]:
    """The guard's verdict on every intent of one decision time (same order as ``intents``).

    Rules in order, each on the quantity the previous allowed, stopping at the first block:
    1. ``symbol_owner`` (buys and sells); 2. ``capital_bucket``; 3. the user's spread:
    ``daily_loss_limit``, ``max_symbols``, ``symbol_share``, ``sector_share``; 4. ``platform_cap``
    over every surviving intent of each symbol at once. Sells meet only rule 1 (exits must be able
    to leave) and use the platform cap before buys. Intents are taken in the order given: an earlier
    buy of a deployment or user spends its bucket and limits first (pass them in the order they
    should be served). Pure: ``context`` is not changed.
    """
    spent, holders = _Spent(), symbol_holders(context.buckets)
    verdicts = [_guard_one(intent, context, holders, spent) for intent in intents]
    by_symbol: dict[str, list[int]] = {}
    for index, verdict in enumerate(verdicts):
        if verdict.verdict is not VerdictKind.BLOCKED:
            by_symbol.setdefault(verdict.intent.symbol, []).append(index)
    for symbol, indexes in by_symbol.items():
        capped = platform_cap([verdicts[index].allowed for index in indexes], context.adv.get(symbol),
                              context.platform_share)
        for index, verdict in zip(indexes, capped, strict=True):
            verdicts[index] = verdicts[index].then(verdict)
    return verdicts


def daily_loss_users(context: GuardContext) -> set[int]:
    """The users whose loss today reached their daily loss limit (pause all their deployments),
    whether or not they have a buy at this decision time."""
    return {user for user, rules in context.rules.items()
            if daily_loss_breached(rules, context.books.get(user, UserBook()).equity,
                                   context.pnl_today.get(user, ZERO))}
