"""Daily bars from Kiwoom (``ka10081``) through the trading client ``trading.brokers.kiwoom.KiwoomClient``.

A thin adapter: the ``MARKET_DATA_KIWOOM_*`` settings become ``Credentials``, the client's token store
and request budget are the ones passed in (``tokens=`` / ``budget=``, shared with the trading clients of
the same app key) or this process's defaults, its ``daily_bars`` become ``ProviderBars`` and its errors
a ``ProviderError`` (``permanent`` when asking again cannot help: a final refusal or a refused token).
The environment is "mock" when the base URL is Kiwoom's mock host (``mockapi``), "real" otherwise.
Pure module: no Django imports.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from trading.brokers.base import BrokerError
from trading.brokers.http import MemoryBudget
from trading.brokers.kiwoom import CHART_PATH, KiwoomClient

from ._http import BrokerProvider, ProcessTokens, provider_bars, provider_error
from .base import ProviderBars, ProviderError


TOKENS = ProcessTokens()
BUDGET = MemoryBudget()


class KiwoomProvider(BrokerProvider):
    """Kiwoom daily bars for KRX stocks. ``adjusted`` sends ``upd_stkpc_tp`` ``1`` (adjusted, mapping
    unconfirmed: broker-apis.md B6) or ``0``; ``max_calls`` caps the pages one request may read."""

    name = "kiwoom"
    label = "KIWOOM"  # the settings prefix: MARKET_DATA_KIWOOM_*
    client_class = KiwoomClient
    mock_host = "mockapi"
    tokens = TOKENS
    budget = BUDGET
    default_requests_per_second = 4.0
    default_rate_limit_pause = 1.0

    def __init__(self, *args: Any, max_calls: int = 100, adjusted: bool = True, **kwargs: Any) -> None:
        """``BrokerProvider``'s arguments, ``max_calls`` and ``adjusted``."""
        super().__init__(*args, **kwargs)
        self.client.max_bar_pages = max_calls
        self.client.adjusted_prices = adjusted

    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Bars of ``code`` from ``start`` to ``end``. Raises ``ProviderError`` (transient for timeouts,
        5xx, rate limits and unreadable answers; permanent for missing settings, refused keys, unknown
        symbols and other final refusals)."""
        if not self._configured:
            raise ProviderError("not configured (set MARKET_DATA_KIWOOM_BASE_URL, MARKET_DATA_KIWOOM_APP_KEY "
                                "and MARKET_DATA_KIWOOM_APP_SECRET)", permanent=True)
        try:
            bars = self.client.daily_bars(code, start, end)
        except BrokerError as exc:
            raise provider_error(exc, timeout=self.timeout, path=CHART_PATH) from None
        if not bars:
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        return provider_bars(bars)
