"""Try market-data providers in order, fall back on errors, cache what remote providers answer.

This is the Django-aware edge of the providers package: it reads settings and uses Django's cache.
Settings (read with defaults so the package works before they exist):
``MARKET_DATA_PROVIDERS``, ``MARKET_DATA_ROOT``, ``MARKET_DATA_CSV_DIR``, ``MARKET_DATA_CACHE_SECONDS``,
``MARKET_DATA_HTTP_TIMEOUT``, ``MARKET_DATA_KIS_*`` and ``MARKET_DATA_KIWOOM_*``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import AllProvidersFailed, DataProvider, ProviderBars, ProviderError

if TYPE_CHECKING:
    from .kis import KisProvider
    from .kiwoom import KiwoomProvider

logger = logging.getLogger(__name__)

CACHE_VERSION = 1


@dataclass(frozen=True)
class ChainResult:
    """Which provider answered (``provider`` is its name), its bars, and whether they came from the cache."""

    provider: str
    bars: ProviderBars
    cached: bool = False


class ProviderChain:
    """Providers tried in order; the first answer wins.

    ``cache`` is a Django cache (default: ``django.core.cache.cache``); answers of providers marked
    ``cacheable`` are kept ``cache_seconds`` (default ``MARKET_DATA_CACHE_SECONDS``, 600; 0 turns
    caching off) as plain lists, so any cache backend can hold them.
    """

    def __init__(self, providers: Sequence[DataProvider], cache: Any = None, cache_seconds: int | None = None) -> None:
        self.providers = list(providers)
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self.cache = cache
        if cache_seconds is None:
            cache_seconds = settings.MARKET_DATA_CACHE_SECONDS
        self.cache_seconds = cache_seconds

    @property
    def names(self) -> list[str]:
        return [provider.name for provider in self.providers]

    def daily_bars(self, code: str, start: date, end: date) -> ChainResult:
        """Bars of ``code`` with start <= date <= end from the first provider that has them.

        Each skipped provider is logged as a warning with its reason. Raises ``AllProvidersFailed``
        (its ``failures`` list every provider and reason) when none answers.
        """
        key = self._cache_key(code, start, end)
        hit = self.cache.get(key) if self.cache_seconds else None
        if hit is not None:
            return ChainResult(provider=hit["provider"], bars=ProviderBars.from_payload(hit["bars"]), cached=True)
        failures: list[tuple[str, str]] = []
        permanent = True
        for provider in self.providers:
            try:
                bars = provider.daily_bars(code, start, end)
            except ProviderError as exc:
                reason, permanent = exc.reason, permanent and exc.permanent
            except Exception as exc:  # noqa: BLE001 - a broken provider must not stop the fallback
                logger.exception("market-data provider %s crashed for %s", provider.name, code)
                reason, permanent = f"unexpected {type(exc).__name__}", False
            else:
                if self.cache_seconds and provider.cacheable:
                    self.cache.set(key, {"provider": provider.name, "bars": bars.to_payload()}, self.cache_seconds)
                return ChainResult(provider=provider.name, bars=bars)
            failures.append((provider.name, reason))
            logger.warning("market-data provider %s skipped for %s %s..%s: %s", provider.name, code, start, end, reason)
        raise AllProvidersFailed(failures, subject=f"{code} {start}..{end}", permanent=permanent and bool(failures))

    def _cache_key(self, code: str, start: date, end: date) -> str:
        # Hashed: codes and provider names are free text, and memcached keys may not hold spaces.
        raw = f"{code}|{start.isoformat()}|{end.isoformat()}|{','.join(self.names)}"
        return f"marketdata:bars:v{CACHE_VERSION}:{hashlib.sha256(raw.encode()).hexdigest()[:32]}"


def _timeout() -> float:
    return settings.MARKET_DATA_HTTP_TIMEOUT


def _local() -> DataProvider:
    from .local import LocalStoreProvider

    return LocalStoreProvider(settings.MARKET_DATA_ROOT)


def _csv() -> DataProvider:
    from .csv_folder import CsvFolderProvider

    folder = settings.MARKET_DATA_CSV_DIR
    return CsvFolderProvider(folder)


def _pykrx() -> DataProvider:
    from .pykrx_provider import PykrxProvider

    return PykrxProvider()


def _shared() -> dict[str, Any]:
    """The token store and request budget the trading clients share (one token and one pace per app
    key across market data and trading); ``{}`` (each provider's process defaults) without them."""
    try:
        from trading.sharing import shared_budget, shared_token_store
    except ImportError:
        return {}
    return {"tokens": shared_token_store(), "budget": shared_budget()}


def _broker(provider_class: type[KisProvider | KiwoomProvider]) -> DataProvider:
    """A broker provider from its ``MARKET_DATA_<label>_*`` settings; ``_REQUESTS_PER_SECOND`` is the
    app key's budget."""
    prefix = f"MARKET_DATA_{provider_class.label}"
    return provider_class(
        getattr(settings, f"{prefix}_BASE_URL"),
        getattr(settings, f"{prefix}_APP_KEY"),
        getattr(settings, f"{prefix}_APP_SECRET"),
        timeout=_timeout(),
        requests_per_second=getattr(settings, f"{prefix}_REQUESTS_PER_SECOND"),
        **_shared(),
    )


def _kis() -> DataProvider:
    from .kis import KisProvider

    return _broker(KisProvider)


def _kiwoom() -> DataProvider:
    from .kiwoom import KiwoomProvider

    return _broker(KiwoomProvider)


FACTORIES: dict[str, Callable[[], DataProvider]] = {
    "local": _local,
    "csv": _csv,
    "pykrx": _pykrx,
    "kis": _kis,
    "kiwoom": _kiwoom,
}


def get_provider(name: str) -> DataProvider:
    """The provider called ``name``, configured from settings. Raises ImproperlyConfigured for unknown names."""
    try:
        factory = FACTORIES[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"unknown market-data provider {name!r} in MARKET_DATA_PROVIDERS; known: {', '.join(FACTORIES)}"
        ) from None
    return factory()


def default_chain() -> ProviderChain:
    """The chain named by ``settings.MARKET_DATA_PROVIDERS`` (the default order is in config/settings.py)."""
    names = settings.MARKET_DATA_PROVIDERS
    return ProviderChain([get_provider(name) for name in names])
