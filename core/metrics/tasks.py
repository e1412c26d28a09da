"""Celery: task durations, outcomes and failures (signals), and a worker's or beat's own metrics
port. ``connect()`` is called once by ``core.apps.CoreConfig.ready`` (every process loads Django).

The web's ``/metrics`` does not see a worker container's directory, so a worker or beat started
with ``METRICS_PORT`` serves its processes' samples itself (``METRICS_TOKEN`` as on the web; the
compose file sets both): Prometheus' ``up{job="worker"}`` and ``up{job="beat"}`` then say whether
each is alive. Embedded mode needs no port: the worker runs inside the web process.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from core.metrics import series

logger = logging.getLogger("core.metrics")
BACKTEST_TASK = "backtests.tasks.run_backtest"
OUTCOMES = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}
_started: dict[str, float] = {}
_lock = threading.Lock()
_served = False


def task_started(task_id=None, **_kwargs) -> None:
    with _lock:
        _started[task_id] = time.perf_counter()


def task_finished(task_id=None, task=None, retval=None, state=None, **_kwargs) -> None:
    with _lock:
        started = _started.pop(task_id, None)
    name = getattr(task, "name", None) or "<unknown>"
    series.task_runs.labels(task=name, outcome=OUTCOMES.get(state or "", str(state or "unknown").lower())).inc()
    if started is None:
        return
    seconds = time.perf_counter() - started
    series.task_duration.labels(task=name).observe(seconds)
    if name == BACKTEST_TASK:
        status = retval if isinstance(retval, str) and retval.isidentifier() and len(retval) <= 20 else (
            "failure" if state == "FAILURE" else "none")
        series.backtest_duration.labels(status=status).observe(seconds)


def task_failed(sender=None, **_kwargs) -> None:
    series.task_failures.labels(task=getattr(sender, "name", None) or "<unknown>").inc()


def process_exited(pid=None, **_kwargs) -> None:
    from core.metrics.setup import process_dead

    process_dead(os.getpid())


def serve_own_metrics(**_kwargs) -> None:
    """A worker's main process or beat: wipe the directory of a previous run, then serve the samples
    on ``METRICS_PORT`` (nothing when unset)."""
    global _served
    port = int(os.environ.get("METRICS_PORT", "0") or 0)
    if not port or _served:
        return
    from core.metrics.setup import multiproc_wipe

    multiproc_wipe()
    _served = True
    from core.metrics.worker_http import metrics_server_start

    metrics_server_start(port=port, token=os.environ.get("METRICS_TOKEN", ""))


def connect() -> None:
    from celery.signals import (
        beat_init,
        task_failure,
        task_postrun,
        task_prerun,
        worker_init,
        worker_process_shutdown,
    )

    task_prerun.connect(task_started, weak=False, dispatch_uid="metrics-task-prerun")
    task_postrun.connect(task_finished, weak=False, dispatch_uid="metrics-task-postrun")
    task_failure.connect(task_failed, weak=False, dispatch_uid="metrics-task-failure")
    worker_process_shutdown.connect(process_exited, weak=False, dispatch_uid="metrics-process-exit")
    worker_init.connect(serve_own_metrics, weak=False, dispatch_uid="metrics-worker-serve")
    beat_init.connect(serve_own_metrics, weak=False, dispatch_uid="metrics-beat-serve")
