"""The one door: every page, the API, the admin and strategies place an order through ``order_place``.

It reads what the pre-trade checks need from the platform, runs every check, and either writes the
order to the ledger (``services.order_create``: ``new``, the submit job enqueued on commit) or raises
one ``OrderRefused`` listing **every** failure (code, field, message in the active language).

What is checked, in order (all failures collected, none short-circuits the others):

1. the broker is not limited (``trading.health.broker_trading_check``: ``broker_limited``);
2. no order of the same account, symbol and side is unresolved (``submitting``/``unknown``): only
   when reconciliation settled it may another go (``unresolved_order``);
3. the position is not mismatched with the broker's (``position_mismatch``);
4. ``trading.risk.check_order``: session, instrument, tick, ±30 %, lot, buying power, sellable
   quantity, maximum order value/share (the account's own limits, ``account_limits``), duplicates
   (overridable with ``confirm=True``), the kill switches (``trading.killswitch``).

Account state, by broker:

- **paper**: the paper book (``paper_cash``: cash less what open book orders hold;
  ``sellable_quantity``), plus the ledger's open orders not yet in the book (no broker number yet:
  ``new``/``submitting``/``unknown``), which the book cannot know of.
- **KIS / Kiwoom**: the account's last ``balance_snapshot`` (orderable cash, each position's
  sellable quantity and value), read again first when older than a minute (``balance_refresh``),
  plus the ledger's open orders written after that snapshot (``balance_at``) or not yet
  acknowledged: the broker's orderable cash already excludes the others. The broker's own check
  remains the last word, and a refusal it sends ends the order ``rejected``.

Recent orders for the duplicate check: the account's ledger orders within the duplicate window,
except those the broker rejected or that were never placed.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy as _

from core import clock
from core.audit import Actor
from core.errors import ApplicationError, NotFound
from trading import health, risk
from trading.brokers.base import OrderType, Side
from trading.killswitch import kill_switches_for
from trading.models import AccountStatus, BrokerAccount
from trading.orders import selectors, services
from trading.orders.models import Order, OrderEvent, OrderSide, OrderSource
from trading.orders.positions import position_has_mismatch
from trading.orders.states import UNRESOLVED

logger = logging.getLogger("trading.orders")
ZERO = Decimal(0)
MESSAGE_REFUSED = _("The order was not placed.")
MESSAGE_UNRESOLVED = _("An earlier {side} order for {symbol} in this account is still being checked with the broker; "
                       "a new one can be placed once it is settled.")
MESSAGE_MISMATCH = _("Your {symbol} position differs from the broker's; it cannot be traded until the difference "
                     "is resolved.")
MESSAGE_DISABLED = _("This broker account is disabled; enable it again to place orders.")
MESSAGE_NO_ACCOUNT = _("No such broker account.")
NOT_COUNTED = ("rejected", "not_placed")


class OrderRefused(ApplicationError):
    """The checks refused the order. ``failures``: one dict per failed check (``code``, ``field``,
    ``message``); ``needs_confirmation``: only the duplicate check failed (``confirm=True`` passes).
    ``code``/``field``/``message`` are the first failure's."""

    status = 400

    def __init__(self, failures: list[dict[str, Any]], *, needs_confirmation: bool = False) -> None:
        first = failures[0]
        super().__init__(first["message"], field=first["field"], code=first["code"])
        self.failures = failures
        self.needs_confirmation = needs_confirmation
        if needs_confirmation:
            self.status = 409

    @property
    def codes(self) -> list[str]:
        return [failure["code"] for failure in self.failures]


def _failure(code: str, field: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "field": field, "message": message}


def _ledger_rules(account: BrokerAccount, symbol: str, side: Side) -> list[dict[str, Any]]:
    failures = []
    try:
        health.broker_trading_check(broker=account.broker, environment=account.environment)
    except ApplicationError as exc:
        failures.append(_failure(exc.code, None, exc.message))
    if selectors.open_orders(account_id=account.pk, symbol=symbol, side=side).filter(state__in=UNRESOLVED).exists():
        failures.append(_failure("unresolved_order", "side", str(MESSAGE_UNRESOLVED).format(
            side=str(OrderSide(Side(side).value).label).lower(), symbol=symbol)))
    if position_has_mismatch(account_id=account.pk, symbol=symbol):
        failures.append(_failure("position_mismatch", "symbol", str(MESSAGE_MISMATCH).format(symbol=symbol)))
    return failures


def _rules_and_market(symbol: str, now: dt.datetime) -> tuple[risk.InstrumentRules | None, risk.MarketState]:
    from trading.brokers.paper import PaperRefused
    from trading.paper.prices import instrument_rules, latest_price

    try:
        rules = instrument_rules(symbol)
    except PaperRefused:
        return None, risk.MarketState()
    point = latest_price(symbol, now=now)
    if point is None:
        return rules, risk.MarketState()
    return rules, risk.MarketState(previous_close=point.previous_close, last_price=point.price)


MarketData = tuple[risk.InstrumentRules | None, risk.MarketState]


def _reserve(order: Order, remaining: Decimal, known: dict[str, MarketData], now: dt.datetime) -> Decimal:
    """Cash an open buy of the ledger holds, as the checks count a new one (a market buy at the
    upper price limit); 0 when its symbol has no rules or price."""
    if order.symbol not in known:
        known[order.symbol] = _rules_and_market(order.symbol, now)
    rules, market = known[order.symbol]
    if rules is None:
        return ZERO
    intent = risk.OrderIntent(order.symbol, Side.BUY, remaining, OrderType(order.order_type), order.price)
    prices = risk.order_prices(rules, intent, market)
    return ZERO if prices is None else risk.buy_reservation(rules, remaining, prices[1], risk.DEFAULT_COMMISSION)


def _open_ledger(account: BrokerAccount, known: dict[str, MarketData], now: dt.datetime,
                 *conditions: Q, **filters: Any) -> tuple[Decimal, dict[str, Decimal]]:
    """(cash the ledger's open buys hold, quantity its open sells cover by symbol) of the orders
    matching ``conditions`` and ``filters``."""
    reserved, sells = ZERO, {}
    for order in selectors.open_orders(account_id=account.pk).filter(*conditions, **filters):
        remaining = order.remaining_quantity
        if remaining <= 0:
            continue
        if order.side == Side.BUY:
            reserved += _reserve(order, remaining, known, now)
        else:
            sells[order.symbol] = sells.get(order.symbol, ZERO) + remaining
    return reserved, sells


def _paper_state(account: BrokerAccount, symbol: str, now: dt.datetime,
                 known: dict[str, MarketData]) -> risk.AccountState:
    from trading.paper.models import PaperPosition
    from trading.paper.selectors import paper_book_get, paper_cash, sellable_quantity

    book = paper_book_get(account=account)
    cash = paper_cash(account=account, now=now)
    reserved, sells = _open_ledger(account, known, now, broker_order_no="")
    values = {p.symbol: p.cost for p in PaperPosition.objects.filter(book=book, quantity__gt=0)}
    return risk.AccountState(cash=cash.orderable, open_buys_reserved=reserved,
                             holdings={symbol: sellable_quantity(book, symbol)}, open_sells=sells,
                             position_values=values)


def _snapshot_state(account: BrokerAccount, now: dt.datetime, known: dict[str, MarketData]) -> risk.AccountState:
    snapshot = account.balance_snapshot or {}

    def number(value: Any) -> Decimal:
        return Decimal(value) if value not in (None, "") else ZERO

    holdings = {p["symbol"]: number(p.get("sellable_quantity") or p.get("quantity"))
                for p in snapshot.get("positions", [])}
    values = {p["symbol"]: number(p.get("evaluation")) for p in snapshot.get("positions", [])}
    # the broker's orderable cash excludes what it had taken when the balance was read: count the
    # ledger's orders written since, and those it has not acknowledged yet
    since = Q(created_at__gt=account.balance_at) | Q(broker_order_no="") if account.balance_at else Q()
    reserved, sells = _open_ledger(account, known, now, since)
    return risk.AccountState(cash=number(snapshot.get("orderable_cash")), open_buys_reserved=reserved,
                             holdings=holdings, open_sells=sells, position_values=values)


def _recent_orders(account: BrokerAccount, now: dt.datetime, window: dt.timedelta) -> list[risk.RecentOrder]:
    """The account's orders written within ``window`` before ``now``, by the trading clock (their
    creation step of the timeline), except those the broker rejected or never received."""
    rows = (OrderEvent.objects.filter(order__account_id=account.pk, from_state="", to_state="new",
                                      at__gte=now - window)
            .exclude(order__state__in=NOT_COUNTED)
            .values_list("order__symbol", "order__side", "order__quantity", "order__price", "at"))
    return [risk.RecentOrder(symbol, Side(side), quantity, price, at) for symbol, side, quantity, price, at in rows]


def balance_max_age() -> dt.timedelta:
    return dt.timedelta(seconds=float(getattr(settings, "ORDER_BALANCE_MAX_AGE_SECONDS", 60.0)))


def balance_refresh(account: BrokerAccount) -> BrokerAccount:
    """A KIS/Kiwoom account whose balance was read more than ``ORDER_BALANCE_MAX_AGE_SECONDS`` ago
    (or never) is read again before its order is checked (one inquiry, at the request budget's
    lower priority; reconciliation keeps an active account's balance fresh, so most orders skip
    it). A broker that does not answer leaves the last balance: the broker's own check is the
    last word. The account as saved."""
    if account.balance_at is not None and timezone.now() - account.balance_at < balance_max_age():
        return account
    from trading import connections
    from trading.services import balance_snapshot

    resting = f"orders:balance-unread:{account.pk}"
    if cache.get(resting):  # it failed a moment ago: no second wait for every order of a burst
        return account
    try:
        balance = connections.broker_client(account).balance()
    except Exception as exc:  # noqa: BLE001 - any failure leaves the last balance in place
        logger.info("account %s: balance not refreshed before an order (%s)", account.pk, type(exc).__name__)
        cache.set(resting, 1, timeout=balance_max_age().total_seconds() / 2)
        return account
    BrokerAccount.objects.filter(pk=account.pk).update(balance_snapshot=balance_snapshot(balance),
                                                       balance_at=timezone.now())
    return BrokerAccount.objects.get(pk=account.pk)


def account_limits(account: BrokerAccount) -> risk.Limits:
    """The account's own caps (``max_order_value`` KRW, ``max_position_share`` percent; empty: the
    platform's defaults); a setting can only lower a default."""
    share = account.max_position_share
    return risk.Limits.for_user(max_order_value=account.max_order_value,
                                max_position_share=None if share is None else share / 100)


def order_check(*, account: BrokerAccount, intent: risk.OrderIntent, confirm: bool = False,
                now: dt.datetime | None = None,
                market_data: MarketData | None = None,
                ) -> tuple[list[dict[str, Any]], bool]:
    """Every failure of ``intent`` (empty: it may go) and whether only confirmation is missing.
    ``market_data``: the symbol's rules and prices when already read (``_rules_and_market``)."""
    now = now or clock.now()
    failures = _ledger_rules(account, intent.symbol, intent.side)
    rules, market = market_data or _rules_and_market(intent.symbol, now)
    known = {intent.symbol: (rules, market)}
    state = (_paper_state(account, intent.symbol, now, known) if account.broker == "paper"
             else _snapshot_state(account, now, known))
    limits = account_limits(account)
    result = risk.check_order(intent, instrument=rules, market=market, account=state, now=now, limits=limits,
                              recent_orders=_recent_orders(account, now, limits.duplicate_window),
                              kill_switches=kill_switches_for(account), confirm=confirm)
    failures += [_failure(f.code, f.field, f.message_in(gettext)) for f in result.failures]
    return failures, bool(failures) and result.needs_confirmation and len(failures) == len(result.failures)


def order_place(*, actor: Actor, account: BrokerAccount, symbol: str, side: Side | str, quantity: Decimal,
                order_type: OrderType | str, price: Decimal | None = None, confirm: bool = False,
                intent_id: uuid.UUID | None = None, source: str = OrderSource.MANUAL) -> Order:
    """Check and place one order; the ledger's ``Order`` (``new``, its submit job enqueued on commit).

    The same ``intent_id`` again returns the order it made without checking again. A user acting
    for themself reaches only their own accounts (``NotFound`` otherwise); an admin or a strategy
    actor is trusted to have checked. Checks and write run under a lock of the account's row, so
    two orders at once are checked one after the other (buying power, duplicates, the unresolved
    rule hold); the prices are read before it (a broker quote may take a moment).
    Raises ``OrderRefused`` with every failure."""
    if actor.kind == "user" and actor.user_id != account.owner_id:
        raise NotFound(str(MESSAGE_NO_ACCOUNT))
    if intent_id is not None:
        existing = Order.objects.filter(intent_id=intent_id, account_id=account.pk).first()
        if existing is not None:
            return existing
    order_type = OrderType(order_type)
    intent = risk.OrderIntent(symbol=symbol, side=Side(side), quantity=quantity, order_type=order_type,
                              price=price if order_type.needs_price else None)
    now = clock.now()
    market_data = _rules_and_market(symbol, now)
    if not account.is_paper:
        account = balance_refresh(account)
    with transaction.atomic():
        account = BrokerAccount.objects.select_for_update().get(pk=account.pk)
        failures, needs_confirmation = order_check(account=account, intent=intent, confirm=confirm, now=now,
                                                   market_data=market_data)
        if account.status == AccountStatus.DISABLED:
            failures.insert(0, _failure("account_disabled", None, str(MESSAGE_DISABLED)))
            needs_confirmation = False
        if failures:
            raise OrderRefused(failures, needs_confirmation=needs_confirmation)
        return services.order_create(actor=actor, account=account, symbol=symbol, side=intent.side,
                                     quantity=intent.quantity, order_type=order_type, price=intent.price,
                                     source=source, intent_id=intent_id)


__all__ = ["OrderRefused", "account_limits", "order_check", "order_place"]
