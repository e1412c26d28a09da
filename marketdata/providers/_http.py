"""What the broker providers (KIS, Kiwoom) share: they are thin adapters over the trading clients.

The clients (``trading/brokers/``) own tokens, pacing and error sorting; a provider passes them the
token store and request budget it is given (shared with the trading side of the same app key) or
this process's defaults, and turns their records and errors into ``ProviderBars`` / ``ProviderError``.
Pure module: no Django imports.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from trading.brokers.base import (
    BrokerError, Credentials, DailyBar, Environment, RateLimited, Refused, RequestBudget, TokenExpired, TokenStore,
)
from trading.brokers.http import HttpBroker, MemoryTokenStore

from .base import DataProvider, ProviderBars, ProviderError


class ProcessTokens(MemoryTokenStore):
    """A provider's tokens in this process when no shared store is passed; ``clear`` is for tests."""

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()
            self._cooldowns.clear()


class Unpaced:
    """A ``RequestBudget`` that never waits (``requests_per_second <= 0``: tests and local fakes)."""

    def acquire(self, key: str, *, per_second: int, priority: bool = False) -> None:
        return None


def provider_bars(bars: Sequence[DailyBar]) -> ProviderBars:
    """Client bars (Decimal) as provider bars (float64; NaN where the traded value is unknown)."""
    return ProviderBars.build(
        [bar.day for bar in bars], [float(bar.open) for bar in bars], [float(bar.high) for bar in bars],
        [float(bar.low) for bar in bars], [float(bar.close) for bar in bars], [bar.volume for bar in bars],
        value=[float(bar.value) if bar.value is not None else float("nan") for bar in bars],
    )


def provider_error(exc: BrokerError, *, timeout: float, path: str) -> ProviderError:
    """A client error as a ``ProviderError``: permanent when asking again cannot help (a final
    refusal, a token refused even fresh), transient otherwise (timeouts, 5xx, rate limits)."""
    code = exc.code or ""
    if isinstance(exc, RateLimited):
        reason = f"rate limited ({'HTTP 429' if code == '429' else code})"
    elif code == "timeout":
        reason = f"timed out after {timeout:g}s on {path}"
    elif code in ("unreachable", "connection"):
        reason = f"connection failed ({exc.message})"
    elif code.startswith("http_") and code[5:].isdigit() and int(code[5:]) >= 500:
        reason = f"server error HTTP {code[5:]}"
    else:
        reason = f"{exc.message} ({code})" if code else exc.message
        reason += f": {exc.broker_message}" if exc.broker_message else ""
    permanent = isinstance(exc, TokenExpired) or (isinstance(exc, Refused) and not exc.retryable)
    return ProviderError(reason, permanent=permanent)


class BrokerProvider(DataProvider):
    """A broker's market-data provider: its settings, and the trading client it adapts.

    A subclass sets ``client_class``, ``mock_host`` (a part of the mock host's URL), ``tokens`` and
    ``budget`` (this process's defaults when the caller passes no shared ones) and the defaults of
    pacing; ``sleep`` is how its client waits. The client is ``self.client``.
    """

    client_class: type[HttpBroker]
    mock_host = ""
    tokens: TokenStore
    budget: RequestBudget
    default_requests_per_second = 1.0
    default_rate_limit_pause = 1.0

    def __init__(self, base_url: str, app_key: str, app_secret: str, client: httpx.Client | None = None, *,
                 timeout: float = 10.0, requests_per_second: float | None = None, rate_limit_retries: int = 1,
                 rate_limit_pause: float | None = None, tokens: TokenStore | None = None,
                 budget: RequestBudget | None = None) -> None:
        pace = self.default_requests_per_second if requests_per_second is None else requests_per_second
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._configured = bool(base_url and app_key and app_secret)
        environment = Environment.MOCK if self.mock_host and self.mock_host in base_url else Environment.REAL
        self.client = self.client_class(
            Credentials(app_key, app_secret, environment=environment), base_url=base_url,
            tokens=tokens if tokens is not None else self.tokens,
            budget=budget if budget is not None else (self.budget if pace > 0 else Unpaced()),
            requests_per_second=max(1, int(pace)), client=client, timeout=httpx.Timeout(timeout), sleep=self.sleep,
        )
        self.client.rate_limit_retries = rate_limit_retries
        self.client.rate_limit_pause = self.default_rate_limit_pause if rate_limit_pause is None else rate_limit_pause

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    def __repr__(self) -> str:  # never the key or the secret
        return f"<{type(self).__name__} {self.base_url}>"

    @property
    def configured(self) -> bool:
        return self._configured

