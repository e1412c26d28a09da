"""The Django edge of the broker clients' shared state: one token and one request budget per app key.

Every process of a running mode (the web server's workers, Celery workers, a management command run
beside ``./dev run``) speaks to the broker with the same app key, and the broker counts per key:
KIS allows 18 requests a second (1 on mock) and a new token only about once a minute, with a
KakaoTalk alert to the user each time. So the token and the window of request starts live here,
shared by every process, not in one process's memory (``trading.brokers.http`` has those stand-ins):

- ``CacheTokenStore``: the token, encrypted (``core.crypto``), in the cache alias ``brokers``
  (Redis in the full stack; the database table ``broker_cache`` in embedded mode, created on
  migrate), with the issuance lock (``cache.add``: one holder) and the "no token before" cooldown.
- ``RedisBudget``: the sliding window of request starts per app key in Redis, one Lua script per
  attempt (server time, so every process measures on one clock).
- ``DatabaseBudget``: the same window in ``RequestWindow`` rows, one short transaction per attempt.

Both record a start when it may happen within ``RESERVE_AHEAD_SECONDS`` (the caller sleeps until
it), so the pace holds however late a busy CPU wakes the waiting processes.

Orders pass ``priority=True``: while an order waits for a slot, inquiries take none.
``shared_token_store()`` / ``shared_budget()`` return the ones of the running mode.
"""

from __future__ import annotations

import base64
import json
import logging
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.db import DatabaseCache
from django.db import DatabaseError, connections, router, transaction
from django.utils.timezone import now as tz_now

from core import crypto
from trading.brokers.base import AccessToken, Refused, RequestBudget

logger = logging.getLogger("trading.brokers")

CACHE_ALIAS = "brokers"
# The store keeps a token this long; whether it is still fresh is the client's call (HttpBroker
# reads its expiry on the trading clock), so this only bounds how long a forgotten key lingers.
TOKEN_KEEP_SECONDS = 7 * 24 * 3600
COOLDOWN_KEEP_SECONDS = 24 * 3600
# An issuance lock frees itself after this long if its holder died: longer than one issuance can
# take (connect 3 s + write 5 s + read 10 s), shorter than the client's 90 s patience.
LOCK_SECONDS = 30
# ``drop`` compares and deletes under the issuance lock, so it never deletes a token issued meanwhile.
DROP_LOCK_WAIT_SECONDS = 5.0

# The broker counts requests as they arrive, a little after we took the slot, and not every request
# takes equally long to get there (thread switches, a busy CPU). A window slightly longer than the
# broker's second keeps a late request of one second and an early one of the next apart.
WINDOW_SECONDS = 1.05
# A slot that frees within this long is reserved at once, for the exact time it frees: a process
# woken late by a busy CPU then still starts on time, so the window's pace does not drift with each
# wake-up (it did: 16.8/s of 18 from 4 processes). Beyond it the caller sleeps and asks again, so an
# order arriving meanwhile can still go first.
RESERVE_AHEAD_SECONDS = 0.1
# A process that wakes this late for its reserved start gives the slot up and takes another: sent
# now, its request could reach the broker in the next second's window. Only so many times in a row
# (a CPU that busy would otherwise starve it; the broker's refusal is then the safe answer).
LATE_SECONDS = 0.02
LATE_RETRIES = 3
# A waiting order keeps inquiries off the budget for this long past the slot it waits for (if it
# died waiting, inquiries resume after it).
PRIORITY_GRACE_SECONDS = 0.5
# How soon an inquiry held back by a waiting order looks again.
HELD_BACK_SECONDS = 0.01

BUDGET_UNAVAILABLE = "the request budget could not be reached; nothing was sent"


# -- the cache backend of embedded mode -------------------------------------------------------
class BrokerDatabaseCache(DatabaseCache):
    """Django's ``DatabaseCache`` with an ``add`` that is atomic also over an expired entry.

    Django's ``add`` updates an expired row unconditionally, so two processes that both read it as
    expired would both "add" it (PostgreSQL, READ COMMITTED): two holders of one lock. Here the
    expired row is deleted with a condition and the new row inserted: the primary key lets exactly
    one INSERT win, on PostgreSQL and on SQLite alike.
    """

    def add(self, key: str, value: object, timeout: float | None = DEFAULT_TIMEOUT,
            version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        zone = UTC if settings.USE_TZ else None
        expires = datetime.max if timeout is None else datetime.fromtimestamp(timeout, tz=zone)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        quote, adapt = connection.ops.quote_name, connection.ops.adapt_datetimefield_value
        table, key_col, value_col, expires_col = map(quote, (self._table, "cache_key", "value", "expires"))
        pickled = base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
        try:
            with transaction.atomic(using=db), connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE {key_col} = %s AND {expires_col} < %s",
                               [key, adapt(tz_now().replace(microsecond=0))])
                cursor.execute(f"INSERT INTO {table} ({key_col}, {value_col}, {expires_col}) VALUES (%s, %s, %s)",
                               [key, pickled, adapt(expires.replace(microsecond=0))])
        except DatabaseError:  # the key is held (IntegrityError), or the database refused: not added
            return False
        return True


# -- tokens -----------------------------------------------------------------------------------
class CacheTokenStore:
    """``TokenStore`` on a Django cache alias. Tokens are stored encrypted; a token that no longer
    decrypts (its key was rotated away) reads as absent, so the client issues a new one."""

    def __init__(self, alias: str = CACHE_ALIAS, *, poll_seconds: float = 0.02) -> None:
        self.alias = alias
        self.poll_seconds = poll_seconds

    def __repr__(self) -> str:
        return f"<CacheTokenStore {self.alias}>"

    @property
    def cache(self) -> BaseCache:
        return caches[self.alias]

    def get(self, key: str) -> AccessToken | None:
        sealed = self.cache.get(f"token:{key}")
        if sealed is None:
            return None
        try:
            fields = json.loads(crypto.decrypt(sealed))
            return AccessToken(value=str(fields["value"]), expires_at=float(fields["expires_at"]))
        except (InvalidToken, ValueError, KeyError, TypeError):
            logger.warning("a stored token of %s could not be read; it will be issued again", key)
            return None

    def put(self, key: str, token: AccessToken) -> None:
        sealed = crypto.encrypt(json.dumps({"value": token.value, "expires_at": token.expires_at}))
        self.cache.set(f"token:{key}", sealed, timeout=TOKEN_KEEP_SECONDS)

    def drop(self, key: str, value: str) -> None:
        """Forget ``value`` if it is still the stored token (a token issued meanwhile stays)."""
        with self.single_flight(key, timeout=DROP_LOCK_WAIT_SECONDS):
            token = self.get(key)
            if token is not None and token.value == value:
                self.cache.delete(f"token:{key}")

    @contextmanager
    def single_flight(self, key: str, *, timeout: float) -> Iterator[bool]:
        """Yield True to the one holder of ``key``'s issuance lock; False after ``timeout`` seconds,
        or as soon as a token is stored meanwhile (the caller reads it: waiters do not then queue
        for the lock one by one just to read it)."""
        lock, owner = f"token-lock:{key}", uuid.uuid4().hex
        held = self._take(lock, owner, timeout, watched=f"token:{key}")
        try:
            yield held
        finally:
            if held and self.cache.get(lock) == owner:  # not one that took over after ours lapsed
                self.cache.delete(lock)

    def _take(self, lock: str, owner: str, timeout: float, *, watched: str) -> bool:
        deadline = time.monotonic() + timeout
        pause, seen = self.poll_seconds, self.cache.get(watched)
        while not self.cache.add(lock, owner, timeout=LOCK_SECONDS):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, 0.25)
            if self.cache.get(watched) != seen:
                return False
        return True

    def cooldown_until(self, key: str) -> float:
        return float(self.cache.get(f"token-cooldown:{key}", 0.0))

    def set_cooldown(self, key: str, until: float) -> None:
        self.cache.set(f"token-cooldown:{key}", float(until), timeout=COOLDOWN_KEEP_SECONDS)


# -- the request budget: Redis ----------------------------------------------------------------
# KEYS[1]: request starts (ZSET: member = request id, score = start in microseconds of Redis time;
#          a start may lie up to the reservation horizon ahead)
# KEYS[2]: orders waiting for a slot (ZSET: member = request id, score = until when it counts)
# ARGV: per_second, window_us, priority (1/0), request id, grace_us, held_back_us, reserve_us
# Returns {1, us}: the start is recorded, go in us microseconds; {0, us}: ask again in us.
WINDOW_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local limit, window, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local start = now
local taken = redis.call('ZCARD', KEYS[1])
if taken > 0 then
  start = math.max(start, tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]))
  if taken >= limit then
    local nth = redis.call('ZRANGE', KEYS[1], taken - limit, taken - limit, 'WITHSCORES')
    start = math.max(start, tonumber(nth[2]) + window)
  end
end
local wait = start - now
if ARGV[3] == '1' then
  if wait > reserve then
    local hold = wait + tonumber(ARGV[5])
    redis.call('ZADD', KEYS[2], now + hold, ARGV[4])
    if redis.call('PTTL', KEYS[2]) < math.ceil(hold / 1000) + 1000 then
      redis.call('PEXPIRE', KEYS[2], math.ceil(hold / 1000) + 1000)
    end
    return {0, wait - reserve}
  end
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) > 0 then
    return {0, math.max(wait - reserve, tonumber(ARGV[6]))}
  end
  if wait > reserve then
    return {0, wait - reserve}
  end
end
redis.call('ZADD', KEYS[1], start, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + window) / 1000) + 1000)
return {1, wait}
"""


class RedisBudget:
    """``RequestBudget`` in Redis: atomic per attempt, one clock (Redis's) for every process."""

    def __init__(self, url: str, *, prefix: str = "brokers:budget") -> None:
        import redis

        self._errors: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(WINDOW_SCRIPT)
        self.prefix = prefix

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return f"<RedisBudget {self.prefix}>"

    def acquire(self, key: str, *, per_second: int, priority: bool = False) -> None:
        """Block until one request of ``key`` may start; raises ``Refused`` if Redis is unreachable."""
        request = uuid.uuid4().hex
        keys = [f"{self.prefix}:{key}", f"{self.prefix}:priority:{key}"]
        args = [max(1, int(per_second)), _us(WINDOW_SECONDS), int(priority), request, _us(PRIORITY_GRACE_SECONDS),
                _us(HELD_BACK_SECONDS), _us(RESERVE_AHEAD_SECONDS)]  # fmt: skip
        late = 0
        while True:
            asked = time.monotonic()  # before Redis reads its clock: lateness is never underestimated
            try:
                reserved, wait_us = self._script(keys=keys, args=args)
            except self._errors as exc:
                raise Refused(BUDGET_UNAVAILABLE, code="budget_unavailable", retryable=True) from exc
            if not reserved:
                time.sleep(wait_us / 1e6)
            elif _on_time(asked + wait_us / 1e6, time.monotonic) or late == LATE_RETRIES:
                return
            else:
                late += 1


def _on_time(due: float, now: Callable[[], float]) -> bool:
    """Sleep until ``due`` (on the ``now`` clock); whether this process woke close enough to it."""
    left = due - now()
    if left > 0:
        time.sleep(left)
    return now() - due <= LATE_SECONDS


def _us(seconds: float) -> int:
    return int(seconds * 1_000_000)


# -- the request budget: the database (embedded mode) -----------------------------------------
class DatabaseBudget:
    """``RequestBudget`` in ``RequestWindow`` rows: one short transaction per attempt, the row
    locked (PostgreSQL ``SELECT … FOR UPDATE``; SQLite's IMMEDIATE transactions take the write lock
    at BEGIN), so processes never both take the last slot. Time is this host's: embedded mode runs
    every process on one machine.

    Call it outside a transaction: inside one, the row stays locked (and the recorded start unseen
    by other processes) until the outer transaction ends.
    """

    def __repr__(self) -> str:
        return "<DatabaseBudget>"

    def acquire(self, key: str, *, per_second: int, priority: bool = False) -> None:
        """Block until one request of ``key`` may start; raises ``Refused`` if the database fails."""
        registered, late = 0.0, 0
        while True:
            try:
                reserved, when, registered = self._attempt(key, max(1, int(per_second)), priority, registered)
            except DatabaseError as exc:
                raise Refused(BUDGET_UNAVAILABLE, code="budget_unavailable", retryable=True) from exc
            if not reserved:
                time.sleep(when)
            elif _on_time(when, time.time) or late == LATE_RETRIES:
                return
            else:
                late += 1

    @staticmethod
    def _attempt(key: str, limit: int, priority: bool, registered: float) -> tuple[bool, float, float]:
        """One transaction, as the Redis script: (True, start) when ``start`` (epoch seconds) is
        recorded, (False, wait) to ask again in ``wait`` seconds; and for an order, until when it
        holds inquiries back (cleared once it is served unless a later order registered since)."""
        from trading.models import RequestWindow

        with transaction.atomic():
            window, _ = RequestWindow.objects.select_for_update().get_or_create(key=key)
            now = time.time()
            starts = sorted(s for s in window.starts if s > now - WINDOW_SECONDS)
            start = max([now, *starts[-1:]])
            if len(starts) >= limit:
                start = max(start, starts[len(starts) - limit] + WINDOW_SECONDS)
            wait, held_until = start - now, window.priority_waiting_until
            if priority and wait > RESERVE_AHEAD_SECONDS:
                registered = now + wait + PRIORITY_GRACE_SECONDS
                if registered > held_until:
                    RequestWindow.objects.filter(pk=window.pk).update(priority_waiting_until=registered)
                return False, wait - RESERVE_AHEAD_SECONDS, registered
            if not priority and held_until > now:
                return False, max(wait - RESERVE_AHEAD_SECONDS, HELD_BACK_SECONDS), registered
            if wait > RESERVE_AHEAD_SECONDS:
                return False, wait - RESERVE_AHEAD_SECONDS, registered
            if priority and registered and held_until == registered:
                held_until = 0.0  # served, and no order registered after this one
            RequestWindow.objects.filter(pk=window.pk).update(starts=[*starts, start],
                                                              priority_waiting_until=held_until)
            return True, start, registered


# -- the running mode's ones ------------------------------------------------------------------
_guard = threading.Lock()
_token_store = CacheTokenStore()
_budgets: dict[str, RequestBudget] = {}


def shared_token_store() -> CacheTokenStore:
    """The token store every process of this mode shares (the ``brokers`` cache alias)."""
    return _token_store


def shared_budget() -> RequestBudget:
    """Redis's window when ``REDIS_URL`` is set, else the database's. One per process."""
    url = settings.REDIS_URL
    budget = _budgets.get(url)
    if budget is None:
        with _guard:
            budget = _budgets.get(url)
            if budget is None:
                budget = _budgets[url] = RedisBudget(url) if url else DatabaseBudget()
    return budget


__all__ = ["BrokerDatabaseCache", "CacheTokenStore", "DatabaseBudget", "RedisBudget", "shared_budget",
           "shared_token_store"]
