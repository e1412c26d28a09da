"""What the broker providers (KIS, Kiwoom) share: they are thin adapters over the trading clients.

The clients (``trading/brokers/``) own tokens, pacing and error sorting; a provider passes them the
token store and request budget it is given (shared with the trading side of the same app key) or
this process's defaults, and turns their records and errors into ``ProviderBars`` / ``ProviderError``.
Pure module: no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence

from trading.brokers.base import BrokerError, DailyBar, RateLimited, Refused, TokenExpired
from trading.brokers.http import MemoryTokenStore

from .base import ProviderBars, ProviderError


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
