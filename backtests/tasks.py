"""Celery tasks of backtests: thin, they load by id and call the services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init, worker_ready

from backtests import services

logger = logging.getLogger(__name__)


@worker_process_init.connect  # each prefork child
@worker_ready.connect  # solo and thread pools (the embedded worker) run tasks in the main process
def warm_up_engine(**_kwargs) -> None:
    """Load the engine's compiled code before the first user's backtest; never stops a worker."""
    from backtests.pipeline import warm_up

    try:
        warm_up()
    except Exception:
        logger.exception("backtest engine warm-up failed")


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_backtest(*, run_id: int) -> str | None:
    try:
        run = services.backtest_execute(run_id=run_id)
    except SoftTimeLimitExceeded:
        services.backtest_time_limit(run_id=run_id)
        return "failed"
    return None if run is None else run.status


@shared_task
def fail_stale_runs() -> int:
    """Periodic (beat): runs whose worker went silent end as failed with a reason."""
    return services.backtest_fail_stale()


@shared_task(acks_late=True)
def run_sweep_chunk(*, sweep_id: int, cell_ids: list[int]) -> None:
    from backtests import sweeps

    sweeps.sweep_execute_chunk(sweep_id=sweep_id, cell_ids=cell_ids)
