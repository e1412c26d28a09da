"""Plumbing shared by the HTTP providers (KIS, Kiwoom): token cache, pacing, transport errors.

Pure module: no Django imports. Secrets never go into a ``ProviderError`` reason or a log line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .base import ProviderError

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
