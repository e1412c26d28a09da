import datetime as dt

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from backtests import results, services, validation
from backtests.engine import Panel, run as engine_run
from backtests.models import BacktestRun, RunStatus
from core.errors import ApplicationError
from coupons.tests.helpers import free_limits
from strategies import signals

D = dt.date


@pytest.fixture
def pushed(monkeypatch):
    """Events sent to users' websocket groups (after commit)."""
    sent = []
    monkeypatch.setattr("core.realtime.group_send", lambda group, message: sent.append((group, message)))
    return sent


@pytest.fixture
def enqueued(monkeypatch):
    calls = []

    class FakeResult:
        id = "task-1"

    def delay(**kwargs):
        calls.append(kwargs)
        return FakeResult()

    monkeypatch.setattr("backtests.tasks.run_backtest.delay", delay)
    return calls


def spec(**overrides):
    arguments = {
        "strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": "005930 000660",
        "start": D(2015, 1, 1), "end": D(2024, 12, 31), "cash": 10_000_000,
    }
    arguments.update(overrides)
    return validation.backtest_spec_check(**arguments)


def start(user, django_capture_on_commit_callbacks, **overrides) -> BacktestRun:
    key = overrides.pop("submission_key", "")
    with django_capture_on_commit_callbacks(execute=True):
        return services.backtest_start(user=user, spec=spec(**overrides), title="SMA 10/30", submission_key=key)


def test_start_freezes_the_request_and_enqueues_it_after_commit(user, sample_market, enqueued, pushed,
                                                                 django_capture_on_commit_callbacks):
    run = start(user, django_capture_on_commit_callbacks)
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert (run.strategy_type, run.params, run.codes) == ("sma_cross", {"fast": 10, "slow": 30}, ["005930", "000660"])
    assert run.coverage["005930"]["first"] == "2015-01-02"
    assert run.engine_version == validation.ENGINE_VERSION
    assert enqueued == [{"run_id": run.pk}]
    assert run.task_id == "task-1"
    assert pushed[0][0] == f"user.{user.pk}"
    assert pushed[0][1]["payload"]["status"] == "queued"


def test_a_double_click_starts_one_run(user, sample_market, enqueued, django_capture_on_commit_callbacks):
    first = start(user, django_capture_on_commit_callbacks, submission_key="form-abc")
    second = start(user, django_capture_on_commit_callbacks, submission_key="form-abc")
    assert first.pk == second.pk
    assert BacktestRun.objects.count() == 1
    assert len(enqueued) == 1


def test_the_plan_caps_concurrent_runs(user, other_user, sample_market, enqueued, settings,
                                       django_capture_on_commit_callbacks):
    free_limits(max_concurrent_backtests=2)
    start(user, django_capture_on_commit_callbacks)
    start(user, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError) as caught:
        start(user, django_capture_on_commit_callbacks)
    assert caught.value.code == "plan_limit"
    assert caught.value.message.startswith("Concurrent backtests: your plan Free allows 2. Pro allows 10.")
    start(other_user, django_capture_on_commit_callbacks)  # a limit per user


def test_execute_runs_the_engine_and_stores_metrics_and_the_result_file(user, sample_market, media, enqueued,
                                                                       pushed, django_capture_on_commit_callbacks):
    run = start(user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.backtest_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.progress == 100
    assert run.started_at and run.finished_at and run.duration_s > 0

    # the same backtest straight through the engine
    bars = sample_market.read(["005930", "000660"], "2015-01-01", "2024-12-31")
    panel = Panel.from_barset(bars)
    entries, exits = signals.compute("sma_cross", close=panel.close, params={"fast": 10, "slow": 30})
    direct = engine_run(panel, entries, exits, config=validation.engine_config(
        cash=10_000_000, commission=run.commission, sell_tax=None, slippage_bps=run.slippage_bps,
        fill="next_open", accounts="shared", options={}), markets=["KOSPI", "KOSPI"])
    assert run.trades == direct.metrics["trades"]
    assert run.final_equity == pytest.approx(direct.metrics["final_equity"])
    assert run.total_return == pytest.approx(direct.metrics["total_return"])

    stored = results.load(run.result_file.name)
    assert len(stored.trades) == len(direct.trades)
    first = direct.trades[0]
    assert stored.trades[0]["entry_date"] == str(first.entry_date)
    assert stored.trades[0]["shares"] == first.shares
    assert stored.series()["equity"][-1] == pytest.approx(float(direct.equity[-1]))
    assert len(stored.signals) == len(direct.signals)

    pushed = [(group, message) for group, message in pushed if message["event"] != "notifications.unread"]  # the bell
    events = [message["event"] for _, message in pushed]
    assert events[0] == "backtest.progress" and events[-1] == "backtest.finished"
    progress = [message["payload"]["progress"] for _, message in pushed if message["event"] == "backtest.progress"]
    assert progress == sorted(progress)
    assert pushed[-1][1]["payload"]["status"] == "succeeded"


def test_cancel_a_queued_run_and_its_task_does_nothing(user, sample_market, enqueued,
                                                       django_capture_on_commit_callbacks):
    run = start(user, django_capture_on_commit_callbacks)
    services.backtest_cancel(user=user, run=run)
    assert services.backtest_execute(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    with pytest.raises(ApplicationError):
        services.backtest_cancel(user=user, run=run)


def test_cancel_while_running_stops_at_the_next_progress_step(user, sample_market, media, enqueued, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    run = start(user, django_capture_on_commit_callbacks)
    real = services._Progress.__call__

    def cancel_then_report(self, fraction):
        if fraction > 0.3:
            services.backtest_cancel(user=user, run=BacktestRun.objects.get(pk=run.pk))
        return real(self, fraction)

    monkeypatch.setattr(services._Progress, "__call__", cancel_then_report)
    monkeypatch.setattr(services, "PROGRESS_INTERVAL_S", 0.0)
    services.backtest_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert not run.result_file


def test_a_redelivered_task_of_a_dead_worker_fails_the_run_instead_of_running_twice(
        user, sample_market, enqueued, django_capture_on_commit_callbacks):
    user.language = "en"
    user.save()
    run = start(user, django_capture_on_commit_callbacks)
    BacktestRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)  # the first worker claimed it, then died
    services.backtest_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "The worker stopped" in run.error


def test_the_stale_sweep_fails_silent_runs_with_a_reason_in_their_owners_language(
        user, other_user, sample_market, enqueued, settings, django_capture_on_commit_callbacks):
    settings.BACKTEST_STALE_SECONDS = 60
    user.language, other_user.language = "en", "ko"
    user.save()
    other_user.save()
    silent, alive = start(user, django_capture_on_commit_callbacks), start(user, django_capture_on_commit_callbacks)
    korean = start(other_user, django_capture_on_commit_callbacks)
    now = dt.datetime.now(dt.UTC)
    BacktestRun.objects.filter(pk__in=[silent.pk, korean.pk]).update(
        status=RunStatus.RUNNING, started_at=now - dt.timedelta(minutes=5), heartbeat_at=now - dt.timedelta(minutes=3))
    BacktestRun.objects.filter(pk=alive.pk).update(
        status=RunStatus.RUNNING, started_at=now - dt.timedelta(minutes=5), heartbeat_at=now - dt.timedelta(seconds=10))
    assert services.backtest_fail_stale(now=now) == 2
    silent.refresh_from_db()
    alive.refresh_from_db()
    korean.refresh_from_db()
    assert silent.status == korean.status == RunStatus.FAILED
    # the beat has no request: each message is written in the language of the user who will read it
    assert silent.error == "The worker stopped while running this backtest (no sign of life for 60 s)."
    assert korean.error.startswith("이 백테스트를 실행하던 작업 프로세스가 멈췄습니다") and "60초" in korean.error
    assert alive.status == RunStatus.RUNNING


def test_a_run_whose_data_vanished_fails_with_a_readable_error(user, sample_market, enqueued,
                                                               django_capture_on_commit_callbacks):
    run = start(user, django_capture_on_commit_callbacks)
    sample_market.delete("000660")
    services.backtest_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "000660" in run.error


def test_delete_refuses_an_active_run_and_removes_the_file_of_a_finished_one(
        user, sample_market, media, enqueued, django_capture_on_commit_callbacks):
    run = start(user, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError):
        services.backtest_delete(user=user, run=run)
    services.backtest_execute(run_id=run.pk)
    run.refresh_from_db()
    path = media / run.result_file.name
    assert path.exists()
    services.backtest_delete(user=user, run=run)
    assert not path.exists()
    assert not BacktestRun.objects.filter(pk=run.pk).exists()


def test_rerun_checks_the_frozen_request_again(user, sample_market, enqueued, django_capture_on_commit_callbacks):
    run = start(user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        again = services.backtest_rerun(user=user, run=run)
    assert again.pk != run.pk
    assert (again.params, again.codes, again.start) == (run.params, run.codes, run.start)
    sample_market.delete("000660")
    with pytest.raises(ValidationError):
        services.backtest_rerun(user=user, run=run)


def test_the_result_archive_round_trips_nan_free_json(user, sample_market, media):
    bars = sample_market.read(["005930"], "2023-01-01", "2023-12-31")
    panel = Panel.from_barset(bars)
    entries = np.zeros(panel.shape, dtype=bool)
    exits = np.zeros(panel.shape, dtype=bool)
    decoded = results.decode(results.encode(engine_run(panel, entries, exits, config=validation.engine_config(
        cash=1_000_000, commission=0, sell_tax=None, slippage_bps=0, fill="next_open", accounts="shared",
        options={}))))
    assert decoded.trades == []
    assert decoded.metrics["win_rate"] is None  # NaN (no trades) becomes null
    assert decoded.dates[0] == "2023-01-02"


def test_a_sell_pays_the_tax_rate_of_its_settlement_date(user, sample_market, media, enqueued,
                                                         django_capture_on_commit_callbacks):
    """Sold on Thursday 2024-12-26 it settles on 12-30 (0.18 %); sold on Friday 12-27 it settles on
    2025-01-02, past the year-end closure and New Year's Day, at 2025's 0.15 %."""
    rates = {}
    for bought in (D(2024, 12, 24), D(2024, 12, 26)):
        run = start(user, django_capture_on_commit_callbacks, strategy_type="buy_and_hold", params={},
                    codes="005930", start=bought, end=D(2024, 12, 31), fill="close",
                    options={"max_holding_days": 1})
        services.backtest_execute(run_id=run.pk)
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED, run.error
        (trade,) = results.load(run.result_file.name).trades
        rates[trade["exit_date"]] = trade["tax"] / (trade["shares"] * trade["exit_price"])
    assert rates == {"2024-12-26": pytest.approx(0.0018), "2024-12-27": pytest.approx(0.0015)}
