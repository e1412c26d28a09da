"""The simulated month the replay and drift tests share: two synthetic KOSPI stocks with daily bars
(written to the test's own bar store) whose 3/8-bar moving averages cross a few times in April
2026 (20 KRX trading days, no holiday), alice's paper account with room for market buys (held at
the upper price limit), and a replay deployment of an equal-weight SMA cross over that month.

Prices sit on KRX ticks (10 won between 5,000 and 20,000), opens differ from the previous closes,
so "filled at the open" and "filled at the close" are told apart.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from core.audit import Actor
from coupons.tests.helpers import free_limits
from marketdata.calendars import KRX
from marketdata.models import Market
from marketdata.selectors import bar_store
from marketdata.tests.factories import InstrumentFactory
from strategies.models import Sizing
from strategies.tests.factories import StrategyFactory
from trading.live import services
from trading.live.models import Deployment
from trading.services import broker_account_open_paper

SYMBOLS = ("900101", "900102")
HISTORY_FROM = dt.date(2026, 1, 5)
MONTH = (dt.date(2026, 4, 1), dt.date(2026, 4, 28))
BAR_END = dt.date(2026, 4, 30)
CAPITAL = Decimal(10_000_000)
ACCOUNT_CASH = 50_000_000
PARAMS = {"fast": 3, "slow": 8}


def record_jobs(monkeypatch) -> list[tuple]:
    """Jobs the replay and the ledger would hand to Celery, recorded instead of sent (with Redis as
    the broker a test would otherwise leave them in the queue for a worker process)."""
    from trading.live import replay
    from trading.orders import tasks

    sent: list[tuple] = []
    monkeypatch.setattr(replay.replay_step, "apply_async", lambda *args, **kwargs: sent.append(("replay", args)))
    monkeypatch.setattr(tasks.order_submit, "delay", lambda *args: sent.append(("submit", args)))
    monkeypatch.setattr(tasks.orders_reconcile_account, "apply_async",
                        lambda *args, **kwargs: sent.append(("reconcile", args)))
    return sent


def _tick(price: float) -> float:
    return float(round(price / 10.0) * 10)


def bars_from(before: int) -> dt.date:
    """The trading day ``before`` trading days before the month's first."""
    day = MONTH[0]
    for _ in range(before):
        day = KRX.previous_trading_day(day)
    return day


def write_bars(first: dt.date = HISTORY_FROM) -> list[dt.date]:
    """Bars of both symbols on every KRX trading day from ``first`` to ``BAR_END``: a slow wave per
    symbol (different periods and phases), the open a few ticks off the previous close."""
    days = KRX.trading_days(first, BAR_END)
    store = bar_store()
    for k, code in enumerate(SYMBOLS):
        period, base, amplitude = 9.0 + 4 * k, 10_000.0 + 2_000 * k, 1_200.0 - 300 * k
        closes = [_tick(base + amplitude * math.sin(2 * math.pi * t / period + k)) for t in range(len(days))]
        opens = [_tick((closes[t - 1] if t else base) + 30 * ((t % 3) - 1)) for t in range(len(days))]
        store.write(code, "KOSPI", date=[d.isoformat() for d in days], open=opens,
                    high=[max(o, c) + 20 for o, c in zip(opens, closes, strict=True)],
                    low=[min(o, c) - 20 for o, c in zip(opens, closes, strict=True)], close=closes,
                    volume=[1_000_000.0] * len(days))
    return days


def month_deployment(user, *, timing: str = "open", name: str = "리플레이",
                     history_from: dt.date = HISTORY_FROM) -> Deployment:
    """Bars (from ``history_from``), instruments, the paper account and a draft replay deployment of
    the simulated month."""
    free_limits(max_running_deployments=5, max_real_deployments=1, max_symbols_per_deployment=5)
    for code in SYMBOLS:
        InstrumentFactory(code=code, market=Market.KOSPI)
    write_bars(history_from)
    strategy = StrategyFactory(owner=user, codes=list(SYMBOLS), strategy_type="sma_cross", params=dict(PARAMS),
                               sizing=Sizing.EQUAL_WEIGHT)
    actor = Actor.of_user(user)
    account = broker_account_open_paper(actor=actor, owner=user, nickname="리플레이", cash=ACCOUNT_CASH)
    return services.deployment_create(actor=actor, strategy=strategy, account=account, name=name, capital=CAPITAL,
                                      timing=timing, replay=True, replay_start=MONTH[0], replay_end=MONTH[1])
