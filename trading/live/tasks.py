"""Celery tasks of the runner: thin doors over ``trading.live.runner`` and ``trading.live.summary``.

``runner_tick`` (beat, every 30 s, every day: the runner checks each deployment's calendar itself,
so KRX holidays and weekends cost one query) decides the due deployments. A small load is decided
in the tick itself; a large one (the open with many users) is split into batches of deployments with
the same symbols (``runner.batches``), each a ``runner_batch`` task of its own (a Celery group), so
every worker takes a share. While a slot's batches decide, a cache key (``runner.slot_busy_key``)
holds the count of batches left: the guard waits for the whole slot (it judges every signal of a
decision time at once), and the last batch to finish guards and sends. Sending many orders is split
the same way (``runner_send``, by account: an account's orders are placed one after the other under
its lock anyway). A batch that fails lets its key expire; the next tick picks up what is left.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import group, shared_task
from django.core.cache import cache

from core import clock
from marketdata.calendars import KRX, SEOUL
from trading.live import runner, sending

logger = logging.getLogger("trading.live")

INLINE_MAX = 200  # deployments a tick decides itself; above it, batches over the workers
BATCH_SIZE = 500
INLINE_SEND = 50  # signals a task sends itself; above it, batches over the workers
SEND_BATCH = 100
SENDING_KEY = "live:sending"  # the count of send batches still running
SENDING_SECONDS = 120


def _finish(key: str) -> bool:
    """One batch of ``key`` done: whether it was the last (or the count expired)."""
    try:
        left = cache.decr(key)
    except ValueError:
        left = 0
    if left <= 0:
        cache.delete(key)
    return left <= 0


def send_chunks(pending: list[tuple[int, int]], size: int) -> list[list[int]]:
    """Signal ids in chunks of about ``size``, an account's signals never split (in their order)."""
    by_account: dict[int, list[int]] = {}
    for pk, account in pending:
        by_account.setdefault(account, []).append(pk)
    chunks: list[list[int]] = [[]]
    for ids in by_account.values():
        if chunks[-1] and len(chunks[-1]) + len(ids) > size:
            chunks.append([])
        chunks[-1].extend(ids)
    return [chunk for chunk in chunks if chunk]


def dispatch(now: dt.datetime) -> int:
    """Guard the decision times ready for it, then send the judged signals: here when few, else
    over the workers. Returns the number of send batches queued."""
    sending.expire_missed(now=now)
    for decided_at in sending.slots_to_guard(now=now):
        sending.guard_slot(decided_at=decided_at, now=now)
    if cache.get(SENDING_KEY):
        return 0  # a fan-out is sending; what it leaves, the next tick sends
    pending = sending.pending_signals(now=now)
    if len(pending) <= INLINE_SEND:
        sending.send_signals(signal_ids=[pk for pk, _account in pending], now=now)
        return 0
    chunks = send_chunks(pending, SEND_BATCH)
    cache.set(SENDING_KEY, len(chunks), SENDING_SECONDS)
    group(runner_send.s(chunk, now.isoformat()) for chunk in chunks).apply_async()
    return len(chunks)


@shared_task(name="trading.live.tick", ignore_result=True, soft_time_limit=25, time_limit=30)
def runner_tick() -> dict[str, int]:
    now = clock.now()
    runner.daily_loss_pause(now=now)
    report = runner.RunReport()
    queued = 0
    for slot, deployments in runner.due_deployments(now=now).items():
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
    sends = dispatch(now)
    report.add(runner.place_waiting(now=now))
    return {"deployments": report.deployments, "intents": report.intents, "batches": queued, "send_batches": sends}


@shared_task(name="trading.live.batch", acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def runner_batch(deployment_ids: list[int], now: str, slot_at: str) -> int:
    """Decide one batch; the last batch of its slot guards and sends."""
    moment = dt.datetime.fromisoformat(now)
    report = runner.decide(deployment_ids=deployment_ids, now=moment)
    if _finish(runner.slot_busy_key(dt.datetime.fromisoformat(slot_at))):
        dispatch(max(moment, clock.now()))
    return report.intents


@shared_task(name="trading.live.send", acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def runner_send(signal_ids: list[int], now: str) -> int:
    """Send one batch of judged signals (idempotent: a signal already sent is skipped, its order's
    intent id is the signal's)."""
    try:
        return sending.send_signals(signal_ids=signal_ids, now=dt.datetime.fromisoformat(now)).ordered
    finally:
        _finish(SENDING_KEY)


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
