"""Celery tasks of trading: thin, they call the services."""

from __future__ import annotations

import logging

from celery import shared_task

from core import clock
from marketdata.calendars import KRX, SEOUL
from trading import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def check_broker_accounts(*, force: bool = False) -> dict[str, int] | None:
    """Re-verify every active broker account (beat: before the open and hourly in sessions).
    Skipped on days the KRX calendar says are closed, unless ``force``."""
    today = clock.now().astimezone(SEOUL).date()
    if not force and not KRX.is_trading_day(today):
        return None
    totals = services.broker_accounts_check()
    logger.info("broker accounts checked: %(checked)d, failed: %(failed)d", totals)
    return totals


@shared_task
def paper_match_open_orders() -> int:
    """Match resting paper orders against the newest prices the platform has."""
    from trading.paper.tasks import paper_match_open_orders as match

    return match()
