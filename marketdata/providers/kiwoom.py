"""Daily bars from Kiwoom (``ka10081``) through the trading client ``trading.brokers.kiwoom.KiwoomClient``.

A thin adapter: the ``MARKET_DATA_KIWOOM_*`` settings become ``Credentials``, the client's token store
and request budget are the ones passed in (``tokens=`` / ``budget=``, shared with the trading clients of
the same app key) or this process's defaults, its ``daily_bars`` become ``ProviderBars`` and its errors
a ``ProviderError`` (``permanent`` when asking again cannot help: a final refusal or a refused token).
The environment is "mock" when the base URL is Kiwoom's mock host (``mockapi``), "real" otherwise.
Pure module: no Django imports.
"""

from __future__ import annotations

import time
from datetime import date
import httpx

from trading.brokers.base import BrokerError, Credentials, Environment, RequestBudget, TokenStore
from trading.brokers.http import MemoryBudget
from trading.brokers.kiwoom import CHART_PATH, KiwoomClient

from ._http import ProcessTokens, Unpaced, provider_bars, provider_error
from .base import DataProvider, ProviderBars, ProviderError


TOKENS = ProcessTokens()
BUDGET = MemoryBudget()


class KiwoomProvider(DataProvider):
    """Kiwoom daily bars for KRX stocks. ``adjusted`` sends ``upd_stkpc_tp`` ``1`` (adjusted, mapping
    unconfirmed: broker-apis.md B6) or ``0``; ``max_calls`` caps the pages one request may read."""

    name = "kiwoom"
    label = "KIWOOM"  # the settings prefix: MARKET_DATA_KIWOOM_*
    default_requests_per_second = 4.0
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
        adjusted: bool = True,
        tokens: TokenStore | None = None,
        budget: RequestBudget | None = None,
    ) -> None:
        pace = self.default_requests_per_second if requests_per_second is None else requests_per_second
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._configured = bool(base_url and app_key and app_secret)
        environment = Environment.MOCK if "mockapi" in base_url else Environment.REAL
        self._kiwoom = KiwoomClient(
            Credentials(app_key, app_secret, environment=environment), base_url=base_url,
            tokens=tokens if tokens is not None else TOKENS,
            budget=budget if budget is not None else (BUDGET if pace > 0 else Unpaced()),
            requests_per_second=max(1, int(pace)), client=client, timeout=httpx.Timeout(timeout), sleep=time.sleep,
        )
        self._kiwoom.rate_limit_retries = rate_limit_retries
        self._kiwoom.rate_limit_pause = self.default_rate_limit_pause if rate_limit_pause is None else rate_limit_pause
        self._kiwoom.max_bar_pages = max_calls
        self._kiwoom.adjusted_prices = adjusted

    def __repr__(self) -> str:  # never the key or the secret
        return f"<{type(self).__name__} {self.base_url}>"

    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Bars of ``code`` from ``start`` to ``end``. Raises ``ProviderError`` (transient for timeouts,
        5xx, rate limits and unreadable answers; permanent for missing settings, refused keys, unknown
        symbols and other final refusals)."""
        if not self._configured:
            raise ProviderError("not configured (set MARKET_DATA_KIWOOM_BASE_URL, MARKET_DATA_KIWOOM_APP_KEY "
                                "and MARKET_DATA_KIWOOM_APP_SECRET)", permanent=True)
        try:
            bars = self._kiwoom.daily_bars(code, start, end)
        except BrokerError as exc:
            raise provider_error(exc, timeout=self.timeout, path=CHART_PATH) from None
        if not bars:
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        return provider_bars(bars)
