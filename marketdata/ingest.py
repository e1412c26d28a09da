"""The scheduled ingest after the close: fresh daily bars for every symbol the platform trades or watches.

``bars_ingest`` asks the provider chain (``settings.MARKET_DATA_PROVIDERS`` less our own store: the
broker's market-data keys first, pykrx as the fallback; ``marketdata.providers.chain``) for each
symbol of an active deployment (running, paused or halted) or of any watchlist, from the day after
its last stored bar (or ``FIRST_DAYS`` back for a symbol without bars) to ``day``, merges the answer
into the bar store and records the coverage in a ``BarIngest`` row: how many symbols it was asked
for, how many it updated and from which provider, and which it missed, with the reason (every
provider's failure, or "no bar of the day" when a provider answered without it). The runner refuses
to act on bars older than the previous trading day, so a missed symbol shows on its deployments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
from django.conf import settings
from django.utils import timezone

from core import clock
from marketdata.calendars import SEOUL
from marketdata.models import BarIngest, Instrument
from marketdata.providers.base import AllProvidersFailed, ProviderError
from marketdata.providers.chain import ProviderChain, default_chain
from marketdata.store import BarStore

FIRST_DAYS = 400  # how far back a symbol without stored bars is fetched
LOCAL_PROVIDER = "local"  # our own store: asking it would hand our bars back


def ingest_symbols() -> list[str]:
    """Every symbol of an active deployment or of a watchlist, sorted."""
    from strategies.models import Watchlist
    from trading.live.models import Deployment, DeploymentState

    codes: set[str] = set()
    active = (DeploymentState.RUNNING, DeploymentState.PAUSED, DeploymentState.HALTED)
    for symbols in Deployment.objects.filter(state__in=active).values_list("symbols", flat=True):
        codes.update(symbols or [])
    codes.update(Watchlist.objects.values_list("instruments__code", flat=True).exclude(instruments__code=None))
    return sorted(code for code in codes if code)


def ingest_chain() -> ProviderChain:
    """The configured chain without our own store, uncached (an ingest wants fresh answers)."""
    return ProviderChain([p for p in default_chain().providers if p.name != LOCAL_PROVIDER], cache_seconds=0)


def bars_ingest(*, day: dt.date | None = None, now: dt.datetime | None = None, symbols: Iterable[str] | None = None,
                chain: ProviderChain | None = None) -> BarIngest:
    """Fetch and store the bars up to ``day`` (default: today in Seoul) of ``symbols`` (default:
    ``ingest_symbols()``); returns the ``BarIngest`` record (also when every symbol failed)."""
    now = now or clock.now()
    day = day or now.astimezone(SEOUL).date()
    codes = list(dict.fromkeys(symbols)) if symbols is not None else ingest_symbols()
    record = BarIngest.objects.create(day=day, started_at=timezone.now(), symbols=len(codes))
    store = BarStore(settings.MARKET_DATA_ROOT)
    markets = dict(Instrument.objects.filter(code__in=codes).values_list("code", "market"))
    try:
        chain = chain or ingest_chain()
    except Exception as exc:  # noqa: BLE001 - a misconfigured chain is recorded, not raised at the beat
        record.error = f"{type(exc).__name__}: {exc}"[:300]
        record.missing = {code: "no provider" for code in codes}
        record.finished_at = timezone.now()
        record.save()
        return record
    covered = {c.code: c.last for c in store.coverage(codes)} if codes else {}
    for code in codes:
        last = covered.get(code)
        if last is not None and last >= day:
            record.providers[code] = "up to date"
            continue
        start = last + dt.timedelta(days=1) if last is not None else day - dt.timedelta(days=FIRST_DAYS)
        try:
            answer = chain.daily_bars(code, start, day)
        except AllProvidersFailed as exc:
            record.missing[code] = "; ".join(f"{name}: {reason}" for name, reason in exc.failures)[:200]
            continue
        except ProviderError as exc:
            record.missing[code] = exc.reason[:200]
            continue
        market = markets.get(code) or store.market_of(code) or "KOSPI"
        result = store.write(code, market, **answer.bars.columns())
        record.providers[code] = answer.provider
        if result.rows_added or result.rows_replaced:
            record.updated += 1
        dates = answer.bars.date.astype("datetime64[D]")
        if not len(dates) or dates[-1] < np.datetime64(day, "D"):
            record.missing[code] = f"{answer.provider}: no bar of {day.isoformat()} yet"
    if record.updated:
        store.read(codes, day, day)  # many codes: the market's snapshot is rebuilt now, not at the next open
    record.finished_at = timezone.now()
    record.save()
    return record


__all__ = ["bars_ingest", "ingest_chain", "ingest_symbols"]
