"""The protocol every broker client speaks, the records it returns, and its three error families.

Errors (the order ledger of the next issue is built on exactly this distinction):

- ``Refused``: a definite answer that the request was **not** carried out (validation, market
  closed, insufficient cash, rate limit). ``retryable`` says whether sending it again may succeed
  (EGW00201 / Kiwoom 1700 rate limits, a connection that never opened).
- ``TokenExpired``: the broker refused the token (EGW00123/EGW00121, Kiwoom 8005, HTTP 401). The
  client drops it and issues once; callers see it only when the fresh token is refused too.
- ``UnknownOutcome``: the request may have reached the broker (a timeout after sending, a reset
  connection, a 5xx or an unreadable answer after sending). An order must never be resent on this:
  it is settled against the day's order listing.

Every message is safe to show and log: no secret, no token, no full account number.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable


class Broker(enum.StrEnum):
    KIS = "kis"
    KIWOOM = "kiwoom"
    PAPER = "paper"


class Environment(enum.StrEnum):
    REAL = "real"
    MOCK = "mock"


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    IOC_LIMIT = "ioc_limit"
    FOK_LIMIT = "fok_limit"
    IOC_MARKET = "ioc_market"
    FOK_MARKET = "fok_market"

    @property
    def needs_price(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.IOC_LIMIT, OrderType.FOK_LIMIT)


# -- errors --------------------------------------------------------------------------------------
class BrokerError(Exception):
    """Base of the three families. ``code`` is the broker's code (``msg_cd`` / ``return_code``) or
    one of ours (``timeout``, ``unreachable``, ``http_500``…); ``broker_message`` the broker's own
    text (Korean), already free of secrets."""

    def __init__(self, message: str, *, code: str = "", broker_message: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.broker_message = broker_message


class Refused(BrokerError):
    """Definitely not carried out. ``retryable``: the same request may succeed later."""

    def __init__(self, message: str, *, code: str = "", broker_message: str = "", retryable: bool = False) -> None:
        super().__init__(message, code=code, broker_message=broker_message)
        self.retryable = retryable


class RateLimited(Refused):
    """The broker's per-second limit (EGW00201, Kiwoom 1700), or our own budget ran out."""

    def __init__(self, message: str, *, code: str = "", broker_message: str = "") -> None:
        super().__init__(message, code=code, broker_message=broker_message, retryable=True)


class NotSent(Refused):
    """The request was held back before it was written (``http.send_guard`` said no): the
    broker never saw it."""


class NotSupported(Refused):
    """The broker offers no such call in this environment (e.g. a real-only inquiry on a mock account)."""


class TokenExpired(BrokerError):
    """The token was refused even after one fresh issuance."""


class UnknownOutcome(BrokerError):
    """The request may have reached the broker; its outcome is unknown. Never resend an order on it."""


# -- records -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    """What a client needs to act for one account. ``account_no`` is 10 digits (KIS: CANO 8 +
    ACNT_PRDT_CD 2; Kiwoom: the token's account). ``repr`` never shows the secret."""

    app_key: str = field(repr=False)
    app_secret: str = field(repr=False)
    account_no: str = field(default="", repr=False)
    hts_id: str = ""
    environment: Environment = Environment.REAL

    @property
    def key_id(self) -> str:
        """A stable, non-secret name of the app key (for cache keys and logs)."""
        import hashlib

        return hashlib.sha256(self.app_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float  # epoch seconds


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: Decimal
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    previous_close: Decimal | None = None
    upper_limit: Decimal | None = None
    lower_limit: Decimal | None = None
    tick: Decimal | None = None
    volume: int | None = None
    name: str = ""
    halted: bool = False


@dataclass(frozen=True)
class DailyBar:
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    value: Decimal | None = None


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.LIMIT
    price: Decimal | None = None  # None for market orders


@dataclass(frozen=True)
class OrderAck:
    """The broker took the order. ``order_no`` is KIS ODNO / Kiwoom ord_no; ``org_no`` is KIS
    KRX_FWDG_ORD_ORGNO (needed to revise or cancel; empty for Kiwoom)."""

    order_no: str
    org_no: str = ""
    accepted_at: str = ""  # HHMMSS as the broker reports it
    message: str = ""


@dataclass(frozen=True)
class OrderRecord:
    """One order of the day's listing, with its cumulative fills."""

    order_no: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    filled_quantity: Decimal
    remaining_quantity: Decimal
    average_price: Decimal = Decimal(0)
    filled_amount: Decimal = Decimal(0)
    org_no: str = ""
    original_order_no: str = ""
    order_type_code: str = ""
    ordered_at: str = ""  # HHMMSS
    order_day: date | None = None
    cancelled: bool = False
    rejected_quantity: Decimal = Decimal(0)
    name: str = ""


@dataclass(frozen=True)
class FillRecord:
    """A fill as the broker lists it. ``quantity`` is this fill's; brokers without per-fill ids
    (KIS) report cumulative quantities per order instead: ``cumulative_quantity``."""

    order_no: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    cumulative_quantity: Decimal
    filled_at: str = ""
    fill_no: str = ""
    commission: Decimal | None = None
    tax: Decimal | None = None


@dataclass(frozen=True)
class PositionRecord:
    symbol: str
    quantity: Decimal
    sellable_quantity: Decimal
    average_price: Decimal
    current_price: Decimal
    name: str = ""
    evaluation: Decimal = Decimal(0)
    profit_loss: Decimal = Decimal(0)
    profit_loss_rate: Decimal = Decimal(0)  # percent


@dataclass(frozen=True)
class Balance:
    """Cash and holdings. ``deposit`` is the cash deposit (KIS dnca_tot_amt, Kiwoom entr),
    ``orderable_cash`` what buys may use now, ``settlement_d2`` the D+2 deposit."""

    deposit: Decimal
    orderable_cash: Decimal
    settlement_d2: Decimal
    total_evaluation: Decimal
    positions: tuple[PositionRecord, ...] = ()
    settlement_d1: Decimal | None = None
    securities_evaluation: Decimal = Decimal(0)
    profit_loss: Decimal = Decimal(0)


@dataclass(frozen=True)
class BuyingPower:
    symbol: str
    price: Decimal
    orderable_cash: Decimal
    max_quantity: Decimal  # cash only, no margin (KIS nrcvb_buy_qty, Kiwoom min_ord_alowq)


@dataclass(frozen=True)
class MarketDay:
    day: date
    business_day: bool
    trading_day: bool
    open_day: bool  # orders can be placed (KIS opnd_yn)
    settlement_day: bool


# -- what every process shares: tokens and the request budget ------------------------------------
class TokenStore(Protocol):
    """Tokens per app key, shared by every process of a running mode (encrypted at rest there)."""

    def get(self, key: str) -> AccessToken | None: ...

    def put(self, key: str, token: AccessToken) -> None: ...

    def drop(self, key: str, value: str) -> None:
        """Forget the token ``value`` (only if it is still the stored one)."""

    def single_flight(self, key: str, *, timeout: float) -> AbstractContextManager[bool]:
        """Hold the issuance lock of ``key``: yields True to the one holder, False to others after
        ``timeout`` seconds (they then read the store again)."""

    def cooldown_until(self, key: str) -> float:
        """Epoch seconds before which no token may be issued for ``key`` (0 when none)."""

    def set_cooldown(self, key: str, until: float) -> None: ...


class RequestBudget(Protocol):
    """Requests per app key in a sliding one-second window, across every process."""

    def acquire(self, key: str, *, per_second: int, priority: bool = False) -> None:
        """Block until one request may start now; ``priority`` (orders) goes before others."""


Clock = Callable[[], float]  # epoch seconds; injectable so tests can run a day in seconds


@runtime_checkable
class BrokerClient(Protocol):
    """One account at one broker. Every method raises ``Refused``, ``TokenExpired`` or
    ``UnknownOutcome`` (the base ``BrokerError`` only for what fits none)."""

    broker: Broker
    environment: Environment

    def ensure_token(self) -> None:
        """Have a valid token (shared per app key: issued at most once by all processes)."""

    def revoke_token(self) -> None:
        """Revoke the shared token at the broker (when the account is deleted or the key rotated)."""

    def quote(self, symbol: str) -> Quote: ...

    def daily_bars(self, symbol: str, start: date, end: date) -> list[DailyBar]: ...

    def place_order(self, order: OrderRequest) -> OrderAck: ...

    def revise_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None,
                     price: Decimal, order_type: OrderType = OrderType.LIMIT) -> OrderAck:
        """Change price (and quantity; None = all remaining) of an open order."""

    def cancel_order(self, *, order_no: str, org_no: str, symbol: str, quantity: Decimal | None = None) -> OrderAck:
        """Cancel ``quantity`` (None = all remaining) of an open order."""

    def day_orders(self, day: date, *, open_only: bool = False) -> list[OrderRecord]:
        """Every order of ``day`` (all pages; a listing that changes between pages is restarted)."""

    def day_fills(self, day: date) -> list[FillRecord]: ...

    def open_orders(self) -> list[OrderRecord]: ...

    def balance(self) -> Balance:
        """Cash and every position (all pages)."""

    def buying_power(self, symbol: str, price: Decimal | None = None) -> BuyingPower: ...

    def sellable_quantity(self, symbol: str) -> Decimal: ...

    def market_days(self, day: date) -> list[MarketDay]:
        """KRX days from ``day`` on, as the broker knows them (holidays, special closures)."""


def masked_account(account_no: str) -> str:
    """``12345678-01`` → ``****5678-01``; what logs and other users' pages show."""
    digits = "".join(ch for ch in account_no if ch.isdigit())
    if len(digits) < 6:
        return "****"
    head, tail = digits[:-2], digits[-2:]
    return "****" + head[-4:] + "-" + tail


def redact(text: str, *secrets: str) -> str:
    """``text`` with every secret (longer than 3 characters) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) > 3:
            text = text.replace(secret, "***")
    return text


def pages(fetch: Callable[[dict[str, str]], tuple[list, dict[str, str] | None]], *, max_pages: int) -> Iterator[list]:
    """Yield pages from ``fetch(cursor) -> (rows, next_cursor or None)`` until the last page or
    ``max_pages``; raises ``BrokerError`` when the cap is hit with more pages waiting."""
    cursor: dict[str, str] = {}
    for _ in range(max_pages):
        rows, cursor_next = fetch(cursor)
        yield rows
        if cursor_next is None:
            return
        cursor = cursor_next
    raise BrokerError(f"listing longer than {max_pages} pages", code="too_many_pages")
