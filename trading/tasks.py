"""Celery tasks of trading: thin, they call the services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from core import clock
from marketdata.calendars import KRX, SEOUL
from trading import services
from trading.live import tasks as live_tasks  # registers the runner's jobs, as the order jobs below
from trading.live import replay as replay_tasks  # registers the replay job (trading.live.replay_step)
from trading.orders import tasks as order_tasks  # registers the order jobs (autodiscovery finds trading.tasks only)

REGISTERED = (live_tasks.runner_tick, order_tasks.order_submit, replay_tasks.replay_step)

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


@worker_ready.connect
def reconcile_at_worker_start(**_kwargs) -> None:
    """A worker that (re)starts reconciles every account first: orders left in flight by a crash."""
    try:
        order_tasks.orders_reconcile_due.delay(every_account=True)
    except Exception:  # noqa: BLE001 - a task broker not ready yet must not stop the worker
        logger.exception("could not enqueue the start-up reconciliation")
