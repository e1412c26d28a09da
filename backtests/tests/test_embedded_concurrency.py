"""Embedded mode (SQLite file, a Celery worker of threads in the web process) never loses a write to
"database is locked": a sweep of hundreds of cells and backtests run in the real embedded worker
while other threads sign in through the API and create strategies, watchlists and runs."""

from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pytest
from django.db import connection, connections
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.tests.factories import PASSWORD, UserFactory
from backtests import sweeps, validation
from backtests.models import ACTIVE_STATUSES, BacktestRun, BacktestSweep, RunStatus
from coupons.tests.helpers import free_limits
from marketdata.models import Instrument, Market

CODES = ("005930", "000660")
ROUNDS = 12  # requests of each kind per client thread, at least (more while the sweep still runs)
QUIET_S = 20  # the jobs are given up as stuck after this long without any progress


@pytest.fixture
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite locking only: PostgreSQL has row locks and MVCC, and runs its workers elsewhere")


@pytest.fixture
def synthetic_market(bar_store):
    """Two stocks with two years of small synthetic daily bars (fast cells)."""
    days = np.arange(np.datetime64("2022-01-03"), np.datetime64("2024-01-01"))
    days = days[np.is_busday(days)]
    for shift, code in enumerate(CODES):
        close = 50_000 + 5_000 * np.sin(np.arange(days.size) / (9.0 + shift)) + 10.0 * np.arange(days.size)
        bar_store.write(code, Market.KOSPI, date=days, open=close * 0.995, high=close * 1.01, low=close * 0.99,
                        close=close, volume=np.full(days.size, 1_000_000.0))
        Instrument.objects.create(code=code, name=code, name_en=code, market=Market.KOSPI)
    return bar_store


@pytest.fixture
def embedded_worker(settings):
    """The worker exactly as `./dev run` starts it: threads inside this process, in-memory broker."""
    if not settings.CELERY_EMBEDDED:
        pytest.skip("the embedded worker runs only on the in-memory broker")
    from celery import current_app

    from core.embedded import start_embedded_celery

    worker = start_embedded_celery(current_app._get_current_object(), with_beat=False)  # the production concurrency
    yield worker
    worker.stop(in_sighandler=False)


@pytest.fixture
def unlimited(settings, monkeypatch):
    """Limits and throttles would answer 429 long before the database is the question here."""
    settings.BACKTEST_MAX_CONCURRENT_RUNS = 10_000
    free_limits(max_concurrent_backtests=10_000, max_backtests_per_day=1_000_000,
                api_requests_per_minute=1_000_000, max_strategies=1_000_000)
    settings.ACCOUNT_RATE_LIMITS = False
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES",
                        {scope: "100000/min" for scope in ("anon", "user", "auth", "burst", "sustained")})


class Clients:
    """Loops of real API requests, one thread each; records every answer that is not a success."""

    def __init__(self, sweep_done: threading.Event, threads: int) -> None:
        self.sweep_done, self.threads = sweep_done, threads
        self.failures: list[str] = []
        self.counts: dict[str, int] = {}
        self.run_ids: list[int] = []
        self.lock = threading.Lock()

    def loop(self, kind: str, request) -> None:
        try:
            n = 0
            while n < ROUNDS or (not self.sweep_done.is_set() and n < 20 * ROUNDS):
                try:
                    response = request(n)
                except Exception as error:  # the test client re-raises what a view let through (a 500)
                    self.fail(kind, f"{type(error).__name__}: {error}")
                else:
                    if response.status_code != 201:
                        self.fail(kind, f"{response.status_code} {response.content[:300]!r}")
                    elif kind == "run":
                        with self.lock:
                            self.run_ids.append(response.json()["id"])
                n += 1
            with self.lock:
                self.counts[kind] = n
        finally:
            connections.close_all()  # this thread's connection

    def finished(self) -> bool:
        with self.lock:
            return len(self.counts) == self.threads

    def fail(self, kind: str, message: str) -> None:
        with self.lock:
            self.failures.append(f"{kind}: {message}")


def wait_for_jobs(sweep: BacktestSweep, clients: Clients) -> None:
    """Until the sweep and every run have ended, or nothing moved for QUIET_S seconds (a lost job)."""
    last, quiet_since = None, time.monotonic()
    while True:
        sweep.refresh_from_db()
        if sweep.status not in ACTIVE_STATUSES:
            clients.sweep_done.set()
        active = BacktestRun.objects.filter(status__in=ACTIVE_STATUSES).count()
        state = (sweep.status, sweep.cells_done, BacktestRun.objects.count(), active)
        if clients.sweep_done.is_set() and not active and clients.finished():
            return
        if state != last:
            last, quiet_since = state, time.monotonic()
        elif time.monotonic() - quiet_since > QUIET_S:
            clients.sweep_done.set()  # let the clients stop
            return
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_300_cell_sweep_and_runs_in_the_worker_lose_no_write_while_users_sign_in_and_create(
    sqlite_only, synthetic_market, unlimited, embedded_worker
):
    alice = UserFactory(email="alice@example.com")
    bob = UserFactory(email="bob@example.com")
    spec = validation.backtest_spec_check(strategy_type="sma_cross", params={"fast": 5, "slow": 40},
                                          codes=list(CODES), start=dt.date(2022, 1, 3), end=dt.date(2023, 12, 29),
                                          cash=10_000_000)
    sweep = sweeps.sweep_start(user=alice, spec=spec, title="grid", x_param="fast", x_values="1:30:1",
                               y_param="slow", y_values="40:130:10", metric="sharpe")
    assert sweep.cells_total == 300

    alice_api, bob_api = APIClient(), APIClient()
    alice_api.force_authenticate(alice)
    bob_api.force_authenticate(bob)
    run_body = {"strategy_type": "sma_cross", "params": {"fast": 5, "slow": 20}, "codes": list(CODES),
                "start": "2022-01-03", "end": "2023-12-29", "cash": 10_000_000}
    requests = {
        "token": lambda n: APIClient().post("/api/v1/auth/token/", {"email": bob.email, "password": PASSWORD,
                                                                    "device_name": f"phone {n}"}, format="json"),
        "strategy": lambda n: alice_api.post("/api/v1/strategies/", {
            "name": f"cross {n}", "strategy_type": "sma_cross", "params": {"fast": 5, "slow": 20},
            "instruments": list(CODES)}, format="json"),
        "watchlist": lambda n: bob_api.post("/api/v1/watchlists/", {"name": f"list {n}", "instruments": list(CODES)},
                                            format="json"),
        "run": lambda n: alice_api.post("/api/v1/backtests/", {**run_body, "title": f"run {n}"}, format="json"),
    }
    clients = Clients(threading.Event(), threads=len(requests))
    threads = [threading.Thread(target=clients.loop, args=(kind, request), name=f"client-{kind}")
               for kind, request in requests.items()]
    for thread in threads:
        thread.start()
    wait_for_jobs(sweep, clients)
    for thread in threads:
        thread.join(timeout=60)

    assert clients.failures == [], f"{len(clients.failures)} requests failed:\n" + "\n".join(clients.failures[:5])
    assert set(clients.counts) == set(requests) and min(clients.counts.values()) >= ROUNDS, clients.counts
    sweep.refresh_from_db()
    assert (sweep.status, sweep.cells_done, sweep.error) == (RunStatus.SUCCEEDED, 300, "")
    assert not sweep.cells.exclude(error="").exists()
    assert sweep.cells.filter(metrics__has_key="sharpe").count() == 300
    runs = BacktestRun.objects.filter(pk__in=clients.run_ids)
    assert len(clients.run_ids) >= ROUNDS
    assert [(run.pk, run.status, run.error) for run in runs.exclude(status=RunStatus.SUCCEEDED)] == []


@pytest.mark.django_db(transaction=True)
def test_the_test_database_is_configured_like_the_embedded_one(sqlite_only):
    """WAL (readers never wait for the writer), a busy timeout, and transactions that take the write
    lock when they begin, on the very connections the tests use."""
    with connection.cursor() as cursor:
        pragmas = {name: cursor.execute(f"PRAGMA {name}").fetchone()[0]
                   for name in ("journal_mode", "busy_timeout", "synchronous")}
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["busy_timeout"] >= 5_000
    assert pragmas["synchronous"] == 1  # NORMAL: WAL commits stay durable against an application crash
    assert connection.transaction_mode == "IMMEDIATE"


class WriteLock:
    """Another connection holding SQLite's one write lock (a long write elsewhere in the process)."""

    def __init__(self) -> None:
        self.taken, self.release = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None

    def hold(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._hold, name="write-lock")
            self.thread.start()
            assert self.taken.wait(timeout=10)

    def _hold(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("BEGIN IMMEDIATE")
                self.taken.set()
                self.release.wait(timeout=30)
                cursor.execute("ROLLBACK")
        finally:
            connections.close_all()

    def let_go(self) -> None:
        self.release.set()
        if self.thread is not None:
            self.thread.join(timeout=10)


@pytest.fixture
def write_lock(sqlite_only):
    """A WriteLock, and this thread's connection made to give up waiting for it after 0.1 s (20 s in
    production, too long for a test; what matters is that waiting can end in "database is locked")."""
    lock = WriteLock()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 100")
    yield lock
    lock.let_go()


@pytest.mark.django_db(transaction=True)
def test_a_progress_write_that_finds_the_database_locked_does_not_fail_the_run(
    synthetic_market, no_worker, write_lock, monkeypatch
):
    from backtests import pipeline, services

    alice = UserFactory(email="alice@example.com")
    spec = validation.backtest_spec_check(strategy_type="sma_cross", params={"fast": 5, "slow": 20},
                                          codes=list(CODES), start=dt.date(2022, 1, 3), end=dt.date(2023, 12, 29),
                                          cash=10_000_000)
    run = services.backtest_start(user=alice, spec=spec, title="locked heartbeat")
    compute = pipeline.run_strategy

    def run_strategy_while_locked(*args, **kwargs):
        write_lock.hold()  # every progress write of the engine finds the lock taken
        try:
            return compute(*args, **kwargs)
        finally:
            write_lock.let_go()

    monkeypatch.setattr(pipeline, "run_strategy", run_strategy_while_locked)
    services.backtest_execute(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.error, run.progress) == (RunStatus.SUCCEEDED, "", 100)
    assert run.result_file.name


@pytest.mark.django_db(transaction=True)
def test_a_sweep_heartbeat_that_finds_the_database_locked_does_not_lose_the_chunk(
    synthetic_market, write_lock, monkeypatch
):
    from backtests import pipeline

    alice = UserFactory(email="alice@example.com")
    chunks = []
    monkeypatch.setattr(sweeps, "_enqueue", lambda sweep_id, parts: chunks.extend(parts))
    spec = validation.backtest_spec_check(strategy_type="sma_cross", params={"fast": 5, "slow": 40},
                                          codes=list(CODES), start=dt.date(2022, 1, 3), end=dt.date(2023, 12, 29),
                                          cash=10_000_000)
    sweep = sweeps.sweep_start(user=alice, spec=spec, title="grid", x_param="fast", x_values="2:10:2")
    load, finish = pipeline.panel_from_store, sweeps._finish_chunk

    def load_then_lock(*args, **kwargs):
        panel = load(*args, **kwargs)
        write_lock.hold()  # the heartbeat before each cell finds the lock taken
        return panel

    def finish_after_the_lock(*args, **kwargs):
        write_lock.let_go()
        return finish(*args, **kwargs)

    monkeypatch.setattr(pipeline, "panel_from_store", load_then_lock)
    monkeypatch.setattr(sweeps, "_finish_chunk", finish_after_the_lock)
    (cell_ids,) = chunks
    sweeps.sweep_execute_chunk(sweep_id=sweep.pk, cell_ids=cell_ids)
    sweep.refresh_from_db()
    assert (sweep.status, sweep.cells_done, sweep.error) == (RunStatus.SUCCEEDED, 5, "")
    assert sweep.cells.filter(metrics__has_key="sharpe").count() == 5
