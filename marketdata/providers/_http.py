"""Plumbing shared by the HTTP providers (KIS, Kiwoom): token cache, pacing, transport errors.

Pure module: no Django imports. Secrets never go into a ``ProviderError`` reason or a log line.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

import httpx

from .base import DataProvider, ProviderError

# A token is dropped this long before the broker says it expires (python-kis and Kiwoom's own
# client refresh 10 minutes early).
TOKEN_SAFETY_SECONDS = 600


@dataclass
class Token:
    value: str
    expires_at: float  # time.time() seconds

    def fresh(self) -> bool:
        return time.time() < self.expires_at - TOKEN_SAFETY_SECONDS


class TokenCache:
    """Tokens kept in memory per (base URL, app key), shared by every provider instance of a process.

    Brokers limit how often a token may be issued (KIS: once a minute or less), so a chain built per
    request must not issue a token per request. ``get(key, issue)`` calls ``issue()`` only when no
    fresh token is held; ``drop(key, value)`` forgets a token the server refused.
    """

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], Token] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], issue: Callable[[], Token]) -> str:
        with self._lock:
            token = self._tokens.get(key)
            if token is None or not token.fresh():
                token = issue()
                self._tokens[key] = token
            return token.value

    def drop(self, key: tuple[str, str], value: str) -> None:
        with self._lock:
            token = self._tokens.get(key)
            if token is not None and token.value == value:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


class Pacer:
    """Keeps at least ``interval`` seconds between the starts of two calls (per instance)."""

    def __init__(self, interval: float) -> None:
        self.interval = max(0.0, interval)
        self._last = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            pause = self._last + self.interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self._last = time.monotonic()


def send(client: httpx.Client, method: str, url: str, *, timeout: float, **kwargs: Any) -> httpx.Response:
    """Send one request; transport failures become a transient ``ProviderError``.

    The reason names the failure and the path only (headers and bodies carry secrets).
    """
    path = httpx.URL(url).path
    try:
        return client.request(method, url, timeout=timeout, **kwargs)
    except httpx.TimeoutException:
        raise ProviderError(f"timed out after {timeout:g}s on {path}", permanent=False) from None
    except httpx.TransportError as exc:
        raise ProviderError(f"connection failed on {path} ({type(exc).__name__})", permanent=False) from None


def json_body(response: httpx.Response) -> dict[str, Any] | None:
    """The JSON object in the body, or None when the body is not a JSON object."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def number(text: Any) -> float:
    """A broker number string ("70100", "+70100", "-69000", "") as a non-negative float.

    Kiwoom puts the direction versus the previous close in the sign of prices, so the absolute value
    is the price. Empty means unknown (NaN).
    """
    if text is None:
        return float("nan")
    cleaned = str(text).strip().replace(",", "")
    if not cleaned:
        return float("nan")
    return abs(float(cleaned))


class BrokerHttpProvider(DataProvider):
    """What the broker REST providers (KIS, Kiwoom) share: settings, pacing, token handling.

    A subclass sets ``label`` (the settings prefix in the "not configured" message), ``tokens`` (its
    module's ``TokenCache``), ``token_refused_codes`` / ``rate_limit_code`` (reply codes, as
    ``_reply_code`` reads them) and implements ``_reply_code``, ``_message`` and ``_issue_token``.
    """

    label = ""
    tokens: TokenCache
    token_refused_codes: Container[Any] = frozenset()
    rate_limit_code: Any = None
    # the broker's own pace and back-off when the caller does not say
    default_requests_per_second = 1.0
    default_rate_limit_pause = 1.0

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        client: httpx.Client | None = None,
        *,
        timeout: float = 10.0,
        requests_per_second: float | None = None,
        rate_limit_retries: int = 1,
        rate_limit_pause: float | None = None,
        max_calls: int = 100,
    ) -> None:
        if requests_per_second is None:
            requests_per_second = self.default_requests_per_second
        if rate_limit_pause is None:
            rate_limit_pause = self.default_rate_limit_pause
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self._app_secret = app_secret
        self._client = client or httpx.Client()
        self.timeout = timeout
        self.rate_limit_retries = rate_limit_retries
        self.rate_limit_pause = rate_limit_pause
        self.max_calls = max_calls
        self._pacer = Pacer(1.0 / requests_per_second if requests_per_second > 0 else 0.0)

    def __repr__(self) -> str:  # never show the secret
        return f"<{type(self).__name__} {self.base_url}>"

    # -- transport --------------------------------------------------------------------------
    def _authorized(
        self, method: str, path: str, headers: Callable[[str], dict[str, str]], **kwargs: Any
    ) -> tuple[httpx.Response, dict[str, Any], Any]:
        """One call with token handling: the response, its JSON body ({} if none) and reply code.

        A refused token (``token_refused_codes`` or HTTP 401) is dropped and reissued once; a rate
        limit (``rate_limit_code`` or HTTP 429) is retried ``rate_limit_retries`` times after
        ``rate_limit_pause`` seconds. ``headers(token)`` builds the request headers.
        """
        reissued = False
        rate_limited = 0
        while True:
            token = self._token()
            self._pacer.wait()
            response = send(self._client, method, self.base_url + path, timeout=self.timeout,
                            headers=headers(token), **kwargs)
            body = json_body(response) or {}
            code = self._reply_code(body)
            if code in self.token_refused_codes or response.status_code == 401:
                self.tokens.drop(self._token_key(), token)
                if reissued:
                    raise ProviderError(f"token refused twice ({code or response.status_code})", permanent=True)
                reissued = True
                continue
            if code == self.rate_limit_code or response.status_code == 429:
                if rate_limited < self.rate_limit_retries:
                    rate_limited += 1
                    time.sleep(self.rate_limit_pause)
                    continue
                raise ProviderError(f"rate limited ({code or 'HTTP 429'})", permanent=False)
            return response, body, code

    def _check_http(self, response: httpx.Response, body: dict[str, Any]) -> None:
        """Raises for HTTP 5xx (transient), other HTTP 4xx (permanent) and a body that is not JSON."""
        if response.status_code >= 500:
            raise ProviderError(f"server error HTTP {response.status_code}{self._message(body)}", permanent=False)
        if response.status_code >= 400:
            raise ProviderError(f"refused HTTP {response.status_code}{self._message(body)}", permanent=True)
        if not body:
            raise ProviderError("unreadable answer (not a JSON object)", permanent=False)

    @abc.abstractmethod
    def _reply_code(self, body: dict[str, Any]) -> Any:
        raise NotImplementedError

    @abc.abstractmethod
    def _message(self, body: dict[str, Any]) -> str:
        """": code text" from an answer (secret redacted), or "" when it carries none."""
        raise NotImplementedError

    # -- token ------------------------------------------------------------------------------
    def _token_key(self) -> tuple[str, str]:
        return (self.base_url, self.app_key)

    def _token(self) -> str:
        return self.tokens.get(self._token_key(), self._issue_token)

    @abc.abstractmethod
    def _issue_token(self) -> Token:
        raise NotImplementedError

    def _check_configured(self) -> None:
        if not (self.base_url and self.app_key and self._app_secret):
            prefix = f"MARKET_DATA_{self.label}"
            raise ProviderError(
                f"not configured (set {prefix}_BASE_URL, {prefix}_APP_KEY and {prefix}_APP_SECRET)",
                permanent=True,
            )
