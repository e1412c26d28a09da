"""Celery tasks of the paper broker: thin, they call the matching service."""

from __future__ import annotations

from celery import shared_task

from trading.paper.matching import paper_match_all


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def paper_match_open_orders() -> int:
    """Periodic (beat, every minute or so): fill resting paper orders against the newest prices and
    expire the KRX day's leftovers after the closing auction. Returns the number of fills."""
    return len(paper_match_all())
