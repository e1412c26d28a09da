"""One token and one request budget per app key, shared by every client (trading.sharing).

These run against the running mode's stores: the database cache and ``DatabaseBudget`` in the
SQLite pass; Redis (cache and ``RedisBudget``) when ``REDIS_URL`` is set, where ``DatabaseBudget``
runs on PostgreSQL too. Many threads stand in for many processes here (each has its own client and
database connection); ``test_sharing_processes.py`` does it with real processes.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, connections

from trading.brokers.base import AccessToken, Credentials, Refused, RequestBudget
from trading.brokers.http import HttpBroker
from trading.sharing import (
    CACHE_ALIAS,
    RESERVE_AHEAD_SECONDS,
    CacheTokenStore,
    DatabaseBudget,
    RedisBudget,
    shared_budget,
    shared_token_store,
)

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_TEXT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.secret-token-body"


@pytest.fixture
def store():
    caches[CACHE_ALIAS].clear()
    yield shared_token_store()
    caches[CACHE_ALIAS].clear()


@pytest.fixture
def app_key() -> str:
    """A fresh key per test: Redis keeps request windows between runs."""
    return f"kis:real:{uuid.uuid4().hex[:16]}"


def budgets() -> list[Any]:
    from django.conf import settings

    kinds: list[Any] = [pytest.param("database", id="database")]
    kinds.append(pytest.param("redis", id="redis", marks=pytest.mark.skipif(
        not settings.REDIS_URL, reason="RedisBudget needs REDIS_URL (the PostgreSQL/Redis pass)")))
    return kinds


@pytest.fixture(params=budgets())
def budget(request, settings) -> RequestBudget:
    return RedisBudget(settings.REDIS_URL) if request.param == "redis" else DatabaseBudget()


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started together; their results (or their errors)."""
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def most_in_one_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` in any ``window`` seconds (as FakeServer.max_per_window counts)."""
    times, best, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


class CountingBroker(HttpBroker):
    """A client whose token issuance is counted (and slow, as a real one is)."""

    broker = "kis"  # type: ignore[assignment]
    issued: list[str]
    issue_seconds = 0.2

    def _issue(self) -> AccessToken:
        time.sleep(self.issue_seconds)
        value = f"token-{len(self.issued) + 1}"
        self.issued.append(value)
        return AccessToken(value=value, expires_at=self.clock() + 86400)

    def _revoke(self, token: str) -> None: ...

    def _reply_code(self, body: dict[str, Any]) -> str:
        return ""

    def _broker_message(self, body: dict[str, Any]) -> str:
        return ""

    def _is_success(self, reply: Any) -> bool:
        return True

    def _auth_headers(self, token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"}


def counting_client(store: CacheTokenStore, issued: list[str], **kwargs: Any) -> CountingBroker:
    client = CountingBroker(Credentials(app_key="PSshared-app-key", app_secret="s3cr3t-app-secret"),
                            base_url="http://127.0.0.1:1", tokens=store, **kwargs)  # fmt: skip
    client.issued = issued
    return client


def raw_cache_value(key: str) -> bytes:
    """What the cache backend holds for ``key``, as stored (before unpickling)."""
    cache = caches[CACHE_ALIAS]
    stored_key = cache.make_key(key)
    if hasattr(cache, "_cache"):  # Redis
        return cache._cache.get_client(stored_key).get(stored_key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM broker_cache WHERE cache_key = %s", [stored_key])
        (value,) = cursor.fetchone()
    return base64.b64decode(value)


# -- tokens -------------------------------------------------------------------------------------
def test_a_stored_token_is_encrypted_at_rest(store, app_key):
    store.put(app_key, AccessToken(value=TOKEN_TEXT, expires_at=2_000_000_000.0))

    raw = raw_cache_value(f"token:{app_key}")
    assert raw and TOKEN_TEXT.encode() not in raw and b"secret-token-body" not in raw
    assert store.get(app_key) == AccessToken(value=TOKEN_TEXT, expires_at=2_000_000_000.0)


def test_a_token_sealed_with_a_retired_key_reads_as_absent(store, app_key, settings, caplog):
    store.put(app_key, AccessToken(value=TOKEN_TEXT, expires_at=2_000_000_000.0))
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # rotated, old key dropped

    with caplog.at_level(logging.DEBUG):
        assert store.get(app_key) is None  # the client issues a new one
    assert TOKEN_TEXT not in caplog.text and "secret-token-body" not in caplog.text


def test_every_client_of_one_app_key_shares_one_token(store):
    issued: list[str] = []
    first, second = counting_client(store, issued), counting_client(store, issued)

    first.ensure_token()
    second.ensure_token()

    assert issued == ["token-1"]
    assert store.get(second.token_key).value == "token-1"  # type: ignore[union-attr]


def test_twenty_clients_at_once_issue_one_token(store):
    issued: list[str] = []
    clients = [counting_client(store, issued) for _ in range(20)]

    tokens = in_threads(20, lambda i: clients[i]._token())

    assert issued == ["token-1"]
    assert tokens == ["token-1"] * 20


@pytest.fixture(params=["configured", "database"])
def lock_cache(request, settings, store):
    """The running mode's cache, and embedded mode's database cache on this pass's database (so the
    PostgreSQL pass checks it too: Django's own DatabaseCache.add gives an expired key to several)."""
    if request.param == "configured":
        return caches[CACHE_ALIAS]
    settings.CACHES = {**settings.CACHES, "locks": {"BACKEND": "trading.sharing.BrokerDatabaseCache",
                                                    "LOCATION": "broker_cache_locks"}}  # fmt: skip
    call_command("createcachetable", verbosity=0)
    return caches["locks"]


def test_an_expired_issuance_lock_goes_to_exactly_one_taker(lock_cache, app_key):
    """A holder died: its lock lapsed. Of many processes that see it lapsed at once, one takes it."""
    lock = f"token-lock:{app_key}"
    for _ in range(5):
        lock_cache.set(lock, "a holder that died", timeout=-10)

        taken = in_threads(12, lambda i: lock_cache.add(lock, f"taker-{i}", timeout=30))

        assert taken.count(True) == 1, taken
        assert lock_cache.get(lock) == f"taker-{taken.index(True)}"


def test_a_waiter_for_the_issuance_lock_gives_up_after_its_timeout(store, app_key):
    with store.single_flight(app_key, timeout=1) as holder:
        with store.single_flight(app_key, timeout=0.2) as waiter:
            assert (holder, waiter) == (True, False)
    with store.single_flight(app_key, timeout=0.2) as next_holder:
        assert next_holder is True  # released on leaving


def test_dropping_a_refused_token_keeps_one_issued_meanwhile(store, app_key):
    store.put(app_key, AccessToken(value="token-2", expires_at=2_000_000_000.0))

    store.drop(app_key, "token-1")  # a process that was refused token-1 comes late
    assert store.get(app_key).value == "token-2"  # type: ignore[union-attr]

    store.drop(app_key, "token-2")
    assert store.get(app_key) is None


def test_no_client_issues_a_token_during_anothers_cooldown(store):
    """A refusal with retry_after ("once a minute") holds every client of the key, not just one."""
    now = [1_700_000_000.0]
    issued: list[str] = []

    def advance(seconds: float) -> None:
        now[0] += seconds

    refused = counting_client(store, issued, clock=lambda: now[0], sleep=advance)

    def too_often() -> AccessToken:
        error = Refused("too often", code="EGW00133", retryable=True)
        error.retry_after = 60.0  # type: ignore[attr-defined]
        raise error

    refused._issue = too_often  # type: ignore[method-assign]
    with pytest.raises(Refused):
        refused.ensure_token()
    assert store.cooldown_until(refused.token_key) == 1_700_000_060.0

    other = counting_client(store, issued, clock=lambda: now[0], sleep=advance)
    issued_at: list[float] = []
    original = other._issue
    other._issue = lambda: (issued_at.append(now[0]), original())[1]  # type: ignore[method-assign]
    other.ensure_token()

    assert issued == ["token-1"] and issued_at[0] >= 1_700_000_060.0


def test_the_shared_ones_follow_the_running_mode(settings):
    assert shared_token_store() is shared_token_store()
    assert isinstance(shared_budget(), RedisBudget if settings.REDIS_URL else DatabaseBudget)
    assert shared_budget() is shared_budget()


# -- the request budget -------------------------------------------------------------------------
def test_the_budget_never_lets_more_than_its_limit_start_in_one_second(budget, app_key):
    starts: list[float] = []
    guard = threading.Lock()

    def hammer(_: int) -> None:
        for _ in range(4):
            budget.acquire(app_key, per_second=10)
            with guard:
                starts.append(time.time())

    errors = [r for r in in_threads(8, hammer) if r is not None]

    assert errors == [] and len(starts) == 32
    assert most_in_one_window(starts) <= 10
    assert most_in_one_window(starts) == 10  # it does let the limit through, not fewer


def test_an_order_waiting_for_the_budget_goes_before_waiting_inquiries(budget, app_key):
    """At the mock's one request a second: the next slot goes to the order that came last."""
    budget.acquire(app_key, per_second=1)  # this second is used up
    served: list[str] = []

    def request(i: int) -> None:
        order = i == 2
        if order:
            time.sleep(0.2)  # every inquiry already waits
        budget.acquire(app_key, per_second=1, priority=order)
        served.append("order" if order else "inquiry")  # a second apart: no race in this list

    errors = [r for r in in_threads(3, request) if r is not None]

    assert errors == []
    assert served == ["order", "inquiry", "inquiry"]


def test_a_process_that_wakes_late_for_its_slot_takes_another(budget, app_key, monkeypatch):
    """A busy CPU wakes a process 60 ms after its reserved start: sent then, its request and the
    next second's first would reach the broker less than a second apart."""
    sleep, overslept = time.sleep, []

    def busy_cpu(seconds: float) -> None:
        if seconds <= RESERVE_AHEAD_SECONDS and not overslept:  # the sleep until a reserved start
            overslept.append(seconds)
            seconds += 0.06
        sleep(seconds)

    monkeypatch.setattr(time, "sleep", busy_cpu)
    starts = []
    for _ in range(3):
        budget.acquire(app_key, per_second=1)
        starts.append(time.time())

    assert overslept and most_in_one_window(starts) == 1, [round(b - a, 3) for a, b in zip(starts, starts[1:])]


def test_each_app_key_has_its_own_budget(budget, app_key):
    budget.acquire(app_key, per_second=1)
    done: list[str] = []

    def request(i: int) -> None:
        budget.acquire(app_key if i == 0 else app_key + "-other", per_second=1)
        done.append("same key" if i == 0 else "other key")

    in_threads(2, request)

    assert done == ["other key", "same key"]


def test_an_unreachable_redis_refuses_without_sending_and_without_its_address(app_key):
    budget = RedisBudget("redis://:redis-password@127.0.0.1:1/0")

    with pytest.raises(Refused) as refused:
        budget.acquire(app_key, per_second=18)

    assert refused.value.retryable and refused.value.code == "budget_unavailable"
    assert "redis-password" not in str(refused.value) and "redis-password" not in repr(budget)
