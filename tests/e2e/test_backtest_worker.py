"""Backtests on the real stack: a real Celery worker process, Redis, daphne and a browser's websocket.

Full stack only (CI's PostgreSQL + Redis pass): with the embedded in-memory broker the test
process could not hand a task to the server's worker. Shows progress events arriving over a real
websocket, a cancellation noticed by the running task, and a worker killed mid-run leaving the run
failed with a reason (the periodic stale sweep; beat runs the same service every minute).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from backtests import services, validation
from backtests.models import BacktestRun, RunStatus
from marketdata.models import Instrument, Market
from marketdata.store import BarStore
from marketdata.synthetic import synthetic_code, write_universe
from tests.e2e.conftest import REPO_ROOT, _database_url, _stop
from tests.e2e.helpers import login

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.CELERY_EMBEDDED, reason="needs a broker shared with a worker process (full stack)"),
]

SYMBOLS = 600  # big enough that a run lasts a few seconds on the worker
YEARS = 10
START = dt.date(2012, 1, 2)


@pytest.fixture(autouse=True)
def _push_from_a_thread(monkeypatch):
    """Sync Playwright keeps an event loop in this thread; the test process's own pushes (queued,
    cancelled) go out from a plain thread, as they would from a web request."""
    from core import realtime

    real = realtime.group_send

    def send(group, message):
        thread = threading.Thread(target=real, args=(group, message))
        thread.start()
        thread.join(timeout=10)

    monkeypatch.setattr(realtime, "group_send", send)


@pytest.fixture(scope="module")
def big_universe(market_data_root):
    """Synthetic bars for SYMBOLS codes in the server's bar store (written once per module)."""
    store = BarStore(market_data_root, fsync=False)
    codes = [synthetic_code(i) for i in range(SYMBOLS)]
    if len(set(codes) & set(store.codes())) < SYMBOLS:
        write_universe(store, symbols=SYMBOLS, years=YEARS, seed=7, market=Market.KOSPI, start=START)
    return codes


@pytest.fixture
def instruments(big_universe, market_data_root, settings):
    settings.MARKET_DATA_ROOT = market_data_root  # the test process checks requests against the server's store
    Instrument.objects.bulk_create(
        [Instrument(code=code, name=f"합성{code}", market=Market.KOSPI) for code in big_universe],
        ignore_conflicts=True,
    )
    return big_universe


def _spec(codes, settings):
    settings.BACKTEST_MAX_SYMBOLS = len(codes)
    return validation.backtest_spec_check(
        strategy_type="sma_cross", params={"fast": 10, "slow": 30}, codes=codes, start=START,
        end=START + dt.timedelta(days=365 * YEARS), cash=10_000_000_000, accounts="independent",
    )


def _watch_events(page) -> None:
    page.goto("/dashboard/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    page.evaluate("""() => {
        window.__events = [];
        document.addEventListener('live:event', (e) => window.__events.push(e.detail));
    }""")


def _events(page, run_id: int) -> list[dict]:
    return page.evaluate(f"() => window.__events.filter((e) => e.payload && e.payload.id === {run_id})")


def _wait_for(page, run_id: int, event: str, timeout: float = 60) -> dict:
    # Polled from here: wait_for_function's in-page polling evaluates a string, which the CSP forbids.
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => window.__events.some((e) => e.event === '{event}' && e.payload.id === {run_id})"):
        assert time.monotonic() < deadline, f"no {event} for run {run_id} within {timeout} s"
        page.wait_for_timeout(100)
    return [e for e in _events(page, run_id) if e["event"] == event][-1]


def test_progress_arrives_over_the_websocket_from_the_worker(page, instruments, settings):
    user = UserFactory(email="worker-progress@example.com")
    login(page, user.email, PASSWORD)
    _watch_events(page)
    run = services.backtest_start(user=user, spec=_spec(instruments, settings), title="progress")
    finished = _wait_for(page, run.pk, "backtest.finished")
    assert finished["payload"]["status"] == "succeeded"
    progress = [e["payload"]["progress"] for e in _events(page, run.pk) if e["event"] == "backtest.progress"]
    running = [p for p in progress if 0 < p < 100]
    assert running, f"no intermediate progress in {progress}"
    assert progress == sorted(progress)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.result_file


def test_a_running_backtest_is_cancelled(page, instruments, settings):
    user = UserFactory(email="worker-cancel@example.com")
    login(page, user.email, PASSWORD)
    _watch_events(page)
    run = services.backtest_start(user=user, spec=_spec(instruments, settings), title="cancel me")
    deadline = time.monotonic() + 60
    while BacktestRun.objects.get(pk=run.pk).status == RunStatus.QUEUED:
        assert time.monotonic() < deadline, "the worker never started the run"
        time.sleep(0.02)
    services.backtest_cancel(user=user, run=BacktestRun.objects.get(pk=run.pk))
    finished = _wait_for(page, run.pk, "backtest.finished")
    assert finished["payload"]["status"] == "cancelled"
    time.sleep(3)  # the task stops at its next progress step and must not overwrite the cancel
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert not run.result_file


@pytest.fixture
def own_worker(live_server_url, market_data_root, media_root, tmp_path):
    """A worker process of our own on a queue no other worker reads, so that it can be killed."""
    from django.db import connection

    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(DATABASE_URL=_database_url(connection.settings_dict), MARKET_DATA_ROOT=str(market_data_root),
               MEDIA_ROOT=str(media_root), PYTHONUNBUFFERED="1")
    log = tmp_path / "worker.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "kill-test", "-l", "INFO",
             "--concurrency", "1", "--pool", "prefork", "--hostname", "kill-test@%h"],
            cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.2)
    yield process
    _stop(process)


def test_a_worker_killed_mid_run_leaves_the_run_failed_with_a_reason(own_worker, instruments, settings,
                                                                     monkeypatch):
    from backtests.tasks import run_backtest

    monkeypatch.setattr(services, "_enqueue",
                        lambda run_id: run_backtest.apply_async(kwargs={"run_id": run_id}, queue="kill-test"))
    user = UserFactory(email="worker-killed@example.com")
    run = services.backtest_start(user=user, spec=_spec(instruments, settings), title="killed")
    deadline = time.monotonic() + 60
    while BacktestRun.objects.get(pk=run.pk).status == RunStatus.QUEUED:
        assert time.monotonic() < deadline, "the worker never started the run"
        time.sleep(0.01)
    os.killpg(own_worker.pid, signal.SIGKILL)  # the whole worker: main process and its child
    own_worker.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING  # nobody is left to say otherwise...

    settings.BACKTEST_STALE_SECONDS = 1
    time.sleep(1.5)
    assert services.backtest_fail_stale() == 1  # ...until the periodic sweep (beat, every minute)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    from django.utils import translation

    with translation.override(user.language):  # written in the owner's language
        assert run.error == str(services.WORKER_LOST % {"seconds": 1})
