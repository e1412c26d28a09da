"""What the deployment pages and the API show beside a deployment's own row: its positions (the
symbols it claims in its account) with their prices and P&L, today's P&L, its orders, its signals
of the day, the equity curve and the backtest's over the same days (from ``trading.live.drift``
when that module is there). Reads only, always scoped to the user; the doors call these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from marketdata.calendars import SEOUL
from marketdata.selectors import instrument_names
from trading.live import selectors
from trading.live.models import Deployment, DeploymentDay, DeploymentSignal, SymbolClaim
from trading.models import BrokerAccount, BrokerEnvironment
from trading.orders import selectors as order_selectors
from trading.orders.models import Order
from trading.orders.portfolio import PositionRow, position_rows

ZERO = Decimal(0)
ORDERS_SHOWN = 50
EARLIER_SIGNALS_SHOWN = 50
REPLAY_VALUED_AT = dt.time(16, 0)  # a replayed day is valued after its close

# the kind of money a deployment trades, as the pages and the API name it
PAPER, MOCK, REAL, REPLAY = "paper", "mock", "real", "replay"
KIND_LABELS = {PAPER: _("Paper"), MOCK: _("Mock trading"), REAL: _("Real money"), REPLAY: _("Replay (paper)")}


def account_kind(account: BrokerAccount) -> str:
    """``paper``, ``mock`` (the broker's 모의투자) or ``real``."""
    if account.is_paper:
        return PAPER
    return REAL if account.environment == BrokerEnvironment.REAL else MOCK


def money_kind(deployment: Deployment) -> str:
    """What the deployment trades: ``replay``, ``paper``, ``mock`` or ``real``."""
    return REPLAY if deployment.replay else account_kind(deployment.account)


@dataclass
class Holdings:
    """A deployment's positions (its claimed symbols in its account) and their sums."""

    rows: list[PositionRow] = field(default_factory=list)
    today_pnl: Decimal = ZERO
    market_value: Decimal = ZERO
    unrealized: Decimal = ZERO
    incomplete: bool = False

    @property
    def open_count(self) -> int:
        return sum(1 for row in self.rows if row.position.quantity > 0)


def _claimed(deployments: list[Deployment]) -> dict[int, set[str]]:
    claimed: dict[int, set[str]] = {deployment.pk: set() for deployment in deployments}
    for deployment_id, symbol in SymbolClaim.objects.filter(deployment__in=deployments).values_list(
            "deployment_id", "symbol"):
        claimed[deployment_id].add(symbol)
    return claimed


def replay_moment(deployment: Deployment, now: dt.datetime) -> dt.datetime:
    """The moment a deployment's prices are read at: ``now``, or for a replay the close of its last
    replayed day (its positions are worth what they were worth then, not today's prices)."""
    if not deployment.replay:
        return now
    played = DeploymentDay.objects.filter(deployment=deployment).order_by("-day").values_list("day", flat=True).first()
    return now if played is None else dt.datetime.combine(played, REPLAY_VALUED_AT, SEOUL)


def holdings_of(*, user: Any, deployments: list[Deployment], now: dt.datetime) -> dict[int, Holdings]:
    """Each deployment's holdings: one pass over the positions of each account involved (a replay's
    at the close of its last replayed day)."""
    replays = [deployment for deployment in deployments if deployment.replay]
    if replays and len(deployments) > 1:
        found = holdings_of(user=user, deployments=[d for d in deployments if not d.replay], now=now)
        for deployment in replays:
            found.update(holdings_of(user=user, deployments=[deployment], now=now))
        return found
    if replays:
        now = replay_moment(replays[0], now)
    claimed = _claimed(deployments)
    by_account: dict[int, list[PositionRow]] = {}
    result: dict[int, Holdings] = {}
    for deployment in deployments:
        if not claimed[deployment.pk]:
            result[deployment.pk] = Holdings()
            continue
        if deployment.account_id not in by_account:
            by_account[deployment.account_id] = position_rows(user=user, account_id=deployment.account_id,
                                                              now=now).rows
        holdings = Holdings(rows=[row for row in by_account[deployment.account_id]
                                  if row.symbol in claimed[deployment.pk]])
        for row in holdings.rows:
            if row.today_pnl is None:
                holdings.incomplete = True
            else:
                holdings.today_pnl += row.today_pnl
            if row.position.quantity and row.market_value is not None:
                holdings.market_value += row.market_value
                holdings.unrealized += row.unrealized or ZERO
        result[deployment.pk] = holdings
    return result


def deployment_orders(*, user: Any, deployment: Deployment) -> list[Order]:
    """The newest orders the deployment's signals became (without their accounts: the page does not
    show them)."""
    return list(order_selectors.order_list(user=user).filter(deployment_signals__deployment=deployment)
                .select_related(None).distinct()[:ORDERS_SHOWN])


@dataclass
class SignalDay:
    day: dt.date | None
    is_today: bool
    signals: list[DeploymentSignal]
    earlier: list[DeploymentSignal]


def signals_of_day(*, user: Any, deployment: Deployment, now: dt.datetime) -> SignalDay:
    """The signals of today's decisions (or of the latest day that had any), and earlier ones.

    Without their orders: the page links an order by its id (``order_id``), and loading each
    order's row with its signal was most of this read's time."""
    rows = selectors.deployment_signals(user=user, deployment=deployment).select_related(None)
    newest = rows.values_list("decided_at", flat=True).first()
    if newest is None:
        return SignalDay(None, False, [], [])
    day = newest.astimezone(SEOUL).date()
    start = dt.datetime.combine(day, dt.time(0), SEOUL)
    shown = SignalDay(day, day == now.astimezone(SEOUL).date(), list(rows.filter(decided_at__gte=start)),
                      list(rows.filter(decided_at__lt=start)[:EARLIER_SIGNALS_SHOWN]))
    names = instrument_names(codes={signal.symbol for signal in shown.signals + shown.earlier})
    for signal in shown.signals + shown.earlier:
        signal.symbol_name = names.get(signal.symbol, "")
    return shown


def _backtest_curve(deployment: Deployment, days: list[dt.date]) -> list[float | None] | None:
    """The same strategy's backtest equity on ``days`` (the drift module's), or None without it."""
    try:
        from trading.live import drift
    except ImportError:
        return None
    curve = getattr(drift, "backtest_equity", None)
    if curve is None or not days:
        return None
    try:
        values = curve(deployment=deployment, days=days)
    except Exception:  # noqa: BLE001 - a report that cannot be computed leaves the live curve alone
        return None
    if not values or all(value is None for value in values):
        return None  # no bars for the engine over these days: the live curve alone
    return [None if value is None else float(value) for value in values]


def equity_curve(*, user: Any, deployment: Deployment) -> dict[str, Any]:
    """``{"dates", "equity", "backtest"}`` for the chart (``backtest`` None when not available)."""
    days = list(selectors.deployment_days(user=user, deployment=deployment).values_list("day", "equity"))
    dates = [day for day, _equity in days]
    return {"dates": [day.isoformat() for day in dates], "equity": [float(equity) for _day, equity in days],
            "backtest": _backtest_curve(deployment, dates)}


def capital_free(*, user: Any, account: BrokerAccount, equity: Decimal, excluding: int | None = None) -> Decimal:
    """What is left of the account's equity after the user's active deployments' allotments."""
    rows = selectors.deployments_running(user=user).filter(account=account)
    if excluding is not None:
        rows = rows.exclude(pk=excluding)
    allotted = rows.aggregate(total=Sum("capital"))["total"] or ZERO
    return max(equity - allotted, ZERO)


__all__ = ["Holdings", "KIND_LABELS", "SignalDay", "account_kind", "capital_free", "deployment_orders",
           "equity_curve", "holdings_of", "money_kind", "signals_of_day"]
