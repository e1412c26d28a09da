"""What the REST brokers (KIS, Kiwoom) share: sending, error families, the shared token, pacing.

``HttpBroker.call`` is the one door to the network. It takes a budget slot, attaches the shared
token, sends with explicit timeouts and sorts every failure into ``Refused`` / ``TokenExpired`` /
``UnknownOutcome`` (``base.py``). A subclass supplies the broker's envelope: how a token is issued
and revoked, which reply codes mean "token refused", "rate limited", and what a refusal says.
"""

from __future__ import annotations

import abc
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

from core.metrics import series as metrics

from .base import (
    AccessToken,
    Broker,
    BrokerError,
    Clock,
    Credentials,
    NotSent,
    RateLimited,
    Refused,
    RequestBudget,
    TokenExpired,
    TokenStore,
    UnknownOutcome,
    redact,
)

logger = logging.getLogger("trading.brokers")

# A token is renewed this long before the broker says it expires (python-kis and Kiwoom's own
# client refresh 10 minutes early).
TOKEN_RENEW_SECONDS = 600
# How long a process waits for another process's token issuance before looking again.
TOKEN_WAIT_SECONDS = 15.0


class HideQueries(logging.Filter):
    """httpx logs every request's full URL at INFO; broker queries carry account numbers (KIS CANO).
    Keep the path, drop the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(arg.copy_with(query=None) if isinstance(arg, httpx.URL) else arg for arg in record.args)
        return True


if not any(isinstance(f, HideQueries) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(HideQueries())


def default_timeout() -> httpx.Timeout:
    # connect fails fast (nothing was sent: safe); a read may wait for a slow broker.
    return httpx.Timeout(connect=3.0, read=10.0, write=5.0, pool=5.0)


@dataclass
class Reply:
    """A broker answer: HTTP status, headers, JSON object body ({} when none) and the reply code."""

    status: int
    headers: httpx.Headers
    body: dict[str, Any]
    code: str


# -- per-process stand-ins for the shared stores (pure tests; the Django edge gives shared ones) --
class MemoryTokenStore:
    """Tokens in this process only. ``TokenStore`` protocol."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}
        self._cooldowns: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str) -> AccessToken | None:
        return self._tokens.get(key)

    def put(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token

    def drop(self, key: str, value: str) -> None:
        token = self._tokens.get(key)
        if token is not None and token.value == value:
            del self._tokens[key]

    @contextmanager
    def single_flight(self, key: str, *, timeout: float) -> Iterator[bool]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        got = lock.acquire(timeout=timeout)
        try:
            yield got
        finally:
            if got:
                lock.release()

    def cooldown_until(self, key: str) -> float:
        return self._cooldowns.get(key, 0.0)

    def set_cooldown(self, key: str, until: float) -> None:
        self._cooldowns[key] = until


class MemoryBudget:
    """A sliding one-second window per key in this process only. ``RequestBudget`` protocol."""

    def __init__(self) -> None:
        self._starts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, *, per_second: int, priority: bool = False) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                window = self._starts.setdefault(key, deque())
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) < per_second:
                    window.append(now)
                    return
                pause = window[0] + 1.0 - now
            time.sleep(max(pause, 0.001))


_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One verifying SSL context per process for every broker client: building one loads the CA
    bundle (~30 ms), which every order job would otherwise pay again. Contexts are thread-safe."""
    global _ssl_context
    if _ssl_context is None:
        with _ssl_lock:
            if _ssl_context is None:
                _ssl_context = httpx.create_ssl_context()
    return _ssl_context


_send_guard: ContextVar[Callable[[], bool] | None] = ContextVar("broker_send_guard", default=None)


@contextmanager
def send_guard(allowed: Callable[[], bool]) -> Iterator[None]:
    """While inside, each request of this thread goes out only if ``allowed()`` still holds right
    before it is written: after the shared token and the request budget, which may both wait. An
    order whose lease ran out meanwhile (reconciliation may be settling it as never placed) is
    held back with ``NotSent`` instead of reaching the broker late."""
    reset = _send_guard.set(allowed)
    try:
        yield
    finally:
        _send_guard.reset(reset)


class HttpBroker(abc.ABC):
    """Base of the REST clients. ``clock`` reads token expiry (injectable); pacing uses real time,
    since the broker measures real seconds."""

    broker: Broker
    token_refused_codes: frozenset[str] = frozenset()
    rate_limit_codes: frozenset[str] = frozenset()
    # codes that mean "refused, not carried out" even when they come with HTTP 5xx (KIS sends its
    # gateway refusals, e.g. an unknown app key, as HTTP 500)
    definite_refusal_codes: frozenset[str] = frozenset()
    rate_limit_retries = 3
    rate_limit_pause = 0.2

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str,
        tokens: TokenStore | None = None,
        budget: RequestBudget | None = None,
        requests_per_second: int = 1,
        client: httpx.Client | None = None,
        timeout: httpx.Timeout | None = None,
        clock: Clock = time.time,
        sleep: Any = time.sleep,
    ) -> None:
        self.credentials = credentials
        self.environment = credentials.environment
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens if tokens is not None else MemoryTokenStore()
        self.budget = budget if budget is not None else MemoryBudget()
        self.requests_per_second = max(1, int(requests_per_second))
        self._client = client or httpx.Client(verify=shared_ssl_context())
        self.timeout = timeout or default_timeout()
        self.clock = clock
        self.sleep = sleep

    def __repr__(self) -> str:  # never the key, the secret or the account
        return f"<{type(self).__name__} {self.environment} {self.credentials.key_id}>"

    # -- keys --------------------------------------------------------------------------------
    @property
    def token_key(self) -> str:
        return f"{self.broker}:{self.environment}:{self.credentials.key_id}"

    # -- the envelope, per broker -------------------------------------------------------------
    @abc.abstractmethod
    def _issue(self) -> AccessToken:
        """Ask the broker for a token (one request). Raises ``Refused`` (``retryable`` with
        ``retry_after`` set on the error when the broker says "too often")."""

    @abc.abstractmethod
    def _revoke(self, token: str) -> None: ...

    @abc.abstractmethod
    def _reply_code(self, body: dict[str, Any]) -> str: ...

    @abc.abstractmethod
    def _broker_message(self, body: dict[str, Any]) -> str: ...

    @abc.abstractmethod
    def _is_success(self, reply: Reply) -> bool: ...

    def _refusal(self, reply: Reply) -> Refused:
        """A refusal built from a non-success reply (subclasses map codes to retryable/not)."""
        return Refused(f"refused by the broker ({reply.code or reply.status})", code=reply.code,
                       broker_message=self._broker_message(reply.body))

    # -- token --------------------------------------------------------------------------------
    def _fresh(self, token: AccessToken | None) -> bool:
        return token is not None and self.clock() < token.expires_at - TOKEN_RENEW_SECONDS

    def ensure_token(self) -> None:
        self._token()

    def _token(self) -> str:
        """The shared token; issued by one process only, renewed before expiry, never spun on."""
        token = self.tokens.get(self.token_key)
        if self._fresh(token):
            return token.value  # type: ignore[union-attr]
        deadline = time.monotonic() + 90.0
        while True:
            with self.tokens.single_flight(self.token_key, timeout=TOKEN_WAIT_SECONDS) as holder:
                token = self.tokens.get(self.token_key)
                if self._fresh(token):
                    return token.value  # type: ignore[union-attr]
                if holder:
                    wait = self.tokens.cooldown_until(self.token_key) - self.clock()
                    if wait <= 0:
                        return self._issue_and_store()
                else:
                    wait = 0.2
            if time.monotonic() + wait > deadline:
                raise Refused("the broker allows another token only later; try again in a minute",
                              code="token_cooldown", retryable=True)
            self.sleep(min(max(wait, 0.05), 65.0))

    def _issue_and_store(self) -> str:
        try:
            token = self._issue()
        except Refused as exc:
            retry_after = getattr(exc, "retry_after", 0.0)
            metrics.broker_request(self.broker, "rate_limited" if retry_after else "refused")  # issuance refused
            if retry_after:
                self.tokens.set_cooldown(self.token_key, self.clock() + retry_after)
            raise
        self.tokens.put(self.token_key, token)
        metrics.broker_token_issued(self.broker)
        logger.info("token issued for %s", self.token_key)
        return token.value

    def revoke_token(self) -> None:
        token = self.tokens.get(self.token_key)
        if token is None:
            return
        self.tokens.drop(self.token_key, token.value)
        self._revoke(token.value)

    # -- sending --------------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, priority: bool = False, **kwargs: Any) -> Reply:
        """One request within the budget; transport failures sorted into the error families.
        Held back (``NotSent``) when the caller's ``send_guard`` no longer allows it once the token
        and the budget have been waited for."""
        self.budget.acquire(self.token_key, per_second=self.requests_per_second, priority=priority)
        guard = _send_guard.get()
        if guard is not None and not guard():
            raise NotSent(f"held back before {path}: its time to be sent ran out while it waited", code="not_sent")
        url = self.base_url + path
        try:
            response = self._client.request(method, url, timeout=self.timeout, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # the connection never opened: nothing reached the broker
            metrics.broker_request(self.broker, "unreachable")
            raise Refused(f"the broker could not be reached on {path} ({type(exc).__name__})",
                          code="unreachable", retryable=True) from None
        except httpx.TimeoutException as exc:
            metrics.broker_request(self.broker, "error")
            raise UnknownOutcome(f"no answer in time on {path} ({type(exc).__name__})", code="timeout") from None
        except httpx.TransportError as exc:
            metrics.broker_request(self.broker, "error")
            raise UnknownOutcome(f"the connection broke on {path} ({type(exc).__name__})", code="connection") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        reply = Reply(response.status_code, response.headers, body, self._reply_code(body))
        metrics.broker_request(self.broker, self._outcome(reply))
        return reply

    def _outcome(self, reply: Reply) -> str:
        """The metrics' word for an answer (``call`` decides what it means for the caller)."""
        if reply.code in self.token_refused_codes or reply.status == 401:
            return "token_refused"
        if reply.code in self.rate_limit_codes or reply.status == 429:
            return "rate_limited"
        if reply.status >= 500 and reply.code not in self.definite_refusal_codes:
            return "error"
        return "ok" if self._is_success(reply) else ("refused" if reply.body else "error")

    def call(self, method: str, path: str, headers: dict[str, str], *, priority: bool = False,
             retry_rate_limit: bool = True, **kwargs: Any) -> Reply:
        """One authorised call. A refused token is dropped and reissued once; a rate limit is
        retried (a definite refusal, never executed); any other non-success reply raises
        ``Refused`` and a 5xx or unreadable answer raises ``UnknownOutcome``."""
        reissued = False
        limited = 0
        while True:
            token = self._token()
            reply = self._send(method, path, priority=priority,
                               headers={**headers, **self._auth_headers(token)}, **kwargs)
            if reply.code in self.token_refused_codes or reply.status == 401:
                self.tokens.drop(self.token_key, token)
                if reissued:
                    raise TokenExpired("the broker refused a fresh token", code=reply.code or "401",
                                       broker_message=self._broker_message(reply.body))
                reissued = True
                continue
            if reply.code in self.rate_limit_codes or reply.status == 429:
                if retry_rate_limit and limited < self.rate_limit_retries:
                    limited += 1
                    self.sleep(self.rate_limit_pause * limited)
                    continue
                raise RateLimited("the broker's request limit was reached; try again shortly",
                                  code=reply.code or "429", broker_message=self._broker_message(reply.body))
            if reply.status >= 500 and reply.code not in self.definite_refusal_codes:
                # the request reached the broker and failed there: its effect is unknown
                raise UnknownOutcome(f"the broker answered HTTP {reply.status}", code=reply.code or f"http_{reply.status}",
                                     broker_message=self._broker_message(reply.body))
            if self._is_success(reply):
                return reply
            if not reply.body:
                raise UnknownOutcome(f"the broker's answer was unreadable (HTTP {reply.status})",
                                     code=f"http_{reply.status}")
            raise self._refusal(reply)

    @abc.abstractmethod
    def _auth_headers(self, token: str) -> dict[str, str]: ...

    def _safe(self, text: str) -> str:
        return redact(text, self.credentials.app_secret, self.credentials.app_key, self.credentials.account_no)

    def close(self) -> None:
        self._client.close()


__all__ = ["HttpBroker", "MemoryBudget", "MemoryTokenStore", "Reply", "BrokerError", "default_timeout"]
