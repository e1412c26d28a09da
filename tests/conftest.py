"""Alice's world for the whole-site sweeps: one of everything she can own, with real sample bars.

The authorization sweep and the schemathesis run both need objects to point path parameters at: a
strategy on a watchlist, a finished backtest run with its result file, a sweep with cells, and API
tokens. Bob (``other_user``) owns nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from accounts import services as account_services
from accounts.models import ApiToken, User
from backtests import services as backtest_services
from backtests import sweeps, validation
from backtests.models import BacktestRun, BacktestSweep, RunStatus
from backtests.tests.conftest import SAMPLE, read_sample
from marketdata.models import Instrument, Market
from marketdata.store import BarStore
from strategies.models import Strategy, Watchlist
from strategies.tests.factories import StrategyFactory, WatchlistFactory
from trading.models import AccountStatus, BrokerAccount


@dataclass(frozen=True)
class World:
    alice: User
    strategy: Strategy
    watchlist: Watchlist
    run: BacktestRun
    sweep: BacktestSweep
    token: ApiToken  # a spare device token of alice's (the sweeps may revoke it)
    broker_account: BrokerAccount  # a KIS mock account (its broker URL refuses connections in tests)

    @property
    def cell_id(self) -> int:
        return self.sweep.cells.order_by("pk").first().pk


def _sample_market(root) -> None:
    store = BarStore(root, fsync=False)
    for code, (name, name_en, market) in SAMPLE.items():
        Instrument.objects.create(code=code, name=name, name_en=name_en, market=market)
        store.write(code, market, **read_sample(code))


@pytest.fixture
def alice_world(user, settings, monkeypatch, django_capture_on_commit_callbacks) -> World:
    """Everything alice can own, finished where it can finish; no task is sent to a worker."""
    _sample_market(settings.MARKET_DATA_ROOT)
    monkeypatch.setattr("backtests.tasks.run_backtest.delay", lambda **kwargs: None)
    monkeypatch.setattr(sweeps, "_enqueue", lambda sweep_id, chunks: None)

    watchlist = WatchlistFactory(owner=user, codes=["005930", "000660"])
    strategy = StrategyFactory(owner=user, watchlist=watchlist)
    fields = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": "005930",
              "start": dt.date(2018, 1, 1), "end": dt.date(2024, 12, 31), "cash": 10_000_000}
    checked = validation.backtest_request_check(user=user, fields=dict(fields))
    run = backtest_services.backtest_start(user=user, spec=checked.spec, title="SMA", strategy=strategy)
    backtest_services.backtest_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.result_file, run.error

    sweep = sweeps.sweep_start(user=user, spec=checked.spec, title="grid", x_param="fast", x_values="5, 10",
                               y_param="slow", y_values="30, 60")
    sweeps.sweep_execute_chunk(sweep_id=sweep.pk, cell_ids=list(sweep.cells.values_list("pk", flat=True)))
    sweep.refresh_from_db()
    token, _key = account_services.api_token_create(user=user, name="spare phone")
    broker_account = BrokerAccount(owner=user, broker="kis", environment="mock", account_no="5012345601",
                                   nickname="alice kis", status=AccountStatus.VERIFIED)
    broker_account.set_keys(app_key="P" * 36, app_secret="S" * 180)
    broker_account.save()
    return World(alice=user, strategy=strategy, watchlist=watchlist, run=run, sweep=sweep, token=token,
                 broker_account=broker_account)
