"""Celery tasks of the runner: thin doors over ``trading.live.runner`` and ``trading.live.summary``.

``runner_tick`` (beat, every 30 s, every day: the runner checks each deployment's calendar itself,
so KRX holidays and weekends cost one query) decides the due deployments. A small load is decided
in the tick itself; a large one (the open with many users) is split into batches of deployments with
the same symbols (``runner.batches``), each a ``runner_batch`` task of its own (a Celery group), so
every worker takes a share. While a slot's batches decide, a cache key (``runner.slot_busy_key``)
holds the count of batches left: the last batch to finish runs the guard over the whole slot and
sends (``runner.guard_and_send``); should one fail, the key expires and the next tick sends.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import group, shared_task
from django.core.cache import cache

from core import clock
from marketdata.calendars import KRX, SEOUL
from trading.live import runner

logger = logging.getLogger("trading.live")

INLINE_MAX = 200  # deployments a tick decides itself; above it, batches over the workers
BATCH_SIZE = 500


@shared_task(name="trading.live.tick", ignore_result=True, soft_time_limit=25, time_limit=30)
def runner_tick() -> dict[str, int]:
    now = clock.now()
    runner.daily_loss_pause(now=now)
    due = runner.due_deployments(now=now)
    report = runner.RunReport()
    queued = 0
    for slot, deployments in due.items():
        key = runner.slot_busy_key(slot.at)
        if cache.get(key):
            continue  # its batches are deciding
        if len(deployments) <= INLINE_MAX:
            report.add(runner.decide_slot(slot, deployments))
            continue
        chunks = runner.batches(deployments, size=BATCH_SIZE)
        cache.set(key, len(chunks), runner.SLOT_BUSY_SECONDS)
        group(runner_batch.s(ids, now.isoformat(), slot.at.isoformat()) for ids in chunks).apply_async()
        queued += len(chunks)
    report.add(runner.guard_and_send(now=now))
    report.add(runner.place_waiting(now=now))
    return {"deployments": report.deployments, "intents": report.intents, "ordered": report.ordered,
            "batches": queued}


@shared_task(name="trading.live.batch", acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def runner_batch(deployment_ids: list[int], now: str, slot_at: str) -> int:
    """Decide one batch; the last batch of its slot guards and sends the whole slot."""
    moment = dt.datetime.fromisoformat(now)
    report = runner.decide(deployment_ids=deployment_ids, now=moment)
    key = runner.slot_busy_key(dt.datetime.fromisoformat(slot_at))
    try:
        left = cache.decr(key)
    except ValueError:  # expired: the next tick sends
        left = 0
    if left <= 0:
        cache.delete(key)
        runner.guard_and_send(now=max(moment, clock.now()))
    return report.intents


@shared_task(name="trading.live.place_waiting", ignore_result=True, soft_time_limit=25, time_limit=30)
def place_waiting() -> int:
    """Buys waiting for the cash of their decision's sells, once those have filled."""
    return runner.place_waiting(now=clock.now()).ordered


@shared_task(name="trading.live.day_summaries", acks_late=True, ignore_result=True)
def day_summaries(*, force: bool = False) -> int | None:
    """After the close: every deployment's day (``DeploymentDay``); skipped on KRX closed days."""
    from trading.live.summary import day_summaries as write

    now = clock.now()
    if not force and not KRX.is_trading_day(now.astimezone(SEOUL).date()):
        return None
    return write(now=now)
