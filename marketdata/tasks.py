"""Celery tasks of market data: thin doors over the services."""

from __future__ import annotations

import logging

from celery import shared_task

from core import clock
from marketdata.calendars import KRX, SEOUL

logger = logging.getLogger(__name__)


@shared_task(name="marketdata.ingest_bars", acks_late=True, soft_time_limit=25 * 60, time_limit=30 * 60)
def ingest_bars(*, force: bool = False) -> dict[str, int] | None:
    """After the close (beat): fresh daily bars of every symbol in use (``marketdata.ingest``);
    skipped on days the KRX calendar says are closed, unless ``force``."""
    from marketdata.ingest import bars_ingest

    now = clock.now()
    if not force and not KRX.is_trading_day(now.astimezone(SEOUL).date()):
        return None
    record = bars_ingest(now=now)
    logger.info("bar ingest %s: %d of %d symbols updated, %d missing", record.day, record.updated, record.symbols,
                len(record.missing))
    return {"symbols": record.symbols, "updated": record.updated, "missing": len(record.missing)}


@shared_task(name="marketdata.calendar_check")
def calendar_check() -> int | None:
    """Before the pre-open auction (beat): the KRX calendar against KIS's ``chk-holiday``; the
    number of days they disagree on (None: nothing checked)."""
    from marketdata.calendar_check import calendar_check as check

    found = check(day=clock.now().astimezone(SEOUL).date())
    return None if found is None else len(found)
