"""Daily bars from KIS through the trading client ``trading.brokers.kis.KisClient``.

A thin adapter: the ``MARKET_DATA_KIS_*`` settings become ``Credentials``; the client's token store
and request budget are the ones passed in (``tokens=`` / ``budget=``: the chain passes those the
trading clients share, so one app key has one token and one pace) or this process's defaults; its
``daily_bars`` (``inquire-daily-itemchartprice``, 100 rows a call, broker-apis.md A5.9) become
``ProviderBars`` and its errors a ``ProviderError``. The environment is "mock" when the base URL is
KIS's mock host (``openapivts``), "real" otherwise. Pure module: no Django imports.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from trading.brokers.base import BrokerError, MarketDay, Quote
from trading.brokers.http import MemoryBudget
from trading.brokers.kis import DAILY_BARS_PATH, KisClient

from ._http import BrokerProvider, ProcessTokens, provider_bars, provider_error
from .base import ProviderBars, ProviderError

TOKENS = ProcessTokens()
BUDGET = MemoryBudget()
# A bars request never waits longer than this for the broker (a token cooldown lasts a minute):
# the chain falls back to the next provider instead.
MAX_WAIT_SECONDS = 5.0


class _WouldWait(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _short_sleep(seconds: float) -> None:
    if seconds > MAX_WAIT_SECONDS:
        raise _WouldWait(seconds)
    time.sleep(seconds)


class KisProvider(BrokerProvider):
    """KIS daily bars for KRX stocks (``FID_COND_MRKT_DIV_CODE=J``).

    ``requests_per_second`` is the app key's pace (real 18/s, mock 1/s; ``<= 0`` does not pace);
    ``rate_limit_retries`` / ``rate_limit_pause`` how often and after how long an EGW00201 is sent
    again; ``org_adj_prc`` the chart's ``FID_ORG_ADJ_PRC`` (``0`` = adjusted per the endpoint's
    docstring; the samples conflict, A5.9).
    """

    name = "kis"
    label = "KIS"  # the settings prefix: MARKET_DATA_KIS_*
    client_class = KisClient
    mock_host = "openapivts"
    tokens = TOKENS
    budget = BUDGET
    default_requests_per_second = 15.0
    default_rate_limit_pause = 0.5
    sleep = staticmethod(_short_sleep)  # never waits a token cooldown out: the chain falls back

    def __init__(self, *args: Any, org_adj_prc: str = "0", **kwargs: Any) -> None:
        """``BrokerProvider``'s arguments, and ``org_adj_prc``."""
        super().__init__(*args, **kwargs)
        self.client.org_adj_prc = org_adj_prc

    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Bars of ``code`` from ``start`` to ``end``. Raises ``ProviderError`` (transient for timeouts,
        5xx, rate limits and a token KIS allows only later; permanent for missing settings, refused
        keys and other final refusals)."""
        if not self._configured:
            raise ProviderError("not configured (set MARKET_DATA_KIS_BASE_URL, MARKET_DATA_KIS_APP_KEY "
                                "and MARKET_DATA_KIS_APP_SECRET)", permanent=True)
        try:
            bars = self.client.daily_bars(code, start, end)
        except BrokerError as exc:
            raise provider_error(exc, timeout=self.timeout, path=DAILY_BARS_PATH) from None
        except _WouldWait as wait:
            raise ProviderError(f"KIS allows a new token only in {wait.seconds:.0f}s", permanent=False) from None
        if not bars:
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        return provider_bars(bars)

    def market_days(self, day: date) -> list[MarketDay]:
        """KIS's own calendar from ``day`` on (``chk-holiday``, real keys only). Raises ``ProviderError``."""
        if not self._configured:
            raise ProviderError("not configured (set MARKET_DATA_KIS_APP_KEY and MARKET_DATA_KIS_APP_SECRET)",
                                permanent=True)
        try:
            return self.client.market_days(day)
        except BrokerError as exc:
            raise provider_error(exc, timeout=self.timeout, path="chk-holiday") from None
        except _WouldWait as wait:
            raise ProviderError(f"KIS allows a new token only in {wait.seconds:.0f}s", permanent=False) from None

    def quote(self, code: str) -> Quote:
        """The current price of ``code`` (inquire-price), through the same client, token and budget.
        Raises ``ProviderError`` like ``daily_bars``."""
        if not self._configured:
            raise ProviderError("not configured (set MARKET_DATA_KIS_APP_KEY and MARKET_DATA_KIS_APP_SECRET)",
                                permanent=True)
        try:
            return self.client.quote(code)
        except BrokerError as exc:
            raise provider_error(exc, timeout=self.timeout, path="inquire-price") from None
        except _WouldWait as wait:
            raise ProviderError(f"KIS allows a new token only in {wait.seconds:.0f}s", permanent=False) from None
