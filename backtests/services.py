"""Backtest writes: start, execute (the Celery task's body), cancel, delete, fail stale runs.

Every door (page, API, admin action, task) calls these. Events go to the owner's websocket group
on commit: ``backtest.progress`` while running and ``backtest.finished`` with the final status.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy

from accounts.models import User
from backtests import results
from backtests.models import ACTIVE_STATUSES, BacktestRun, RunStatus
from backtests.validation import ENGINE_VERSION, Spec, engine_config
from core import events
from core.errors import ApplicationError
from coupons.selectors import backtests_today, limit_message, plan_limits
from marketdata.selectors import bar_store, instrument_lots

logger = logging.getLogger(__name__)

EVENT_PROGRESS = "backtest.progress"
EVENT_FINISHED = "backtest.finished"

TOO_MANY_RUNNING = gettext_lazy(
    "You already have %(count)s backtests queued or running: wait for one to finish or cancel one."
)
TOO_MANY_TODAY = gettext_lazy("You started %(count)s backtests today: more can start tomorrow.")
NOT_CANCELLABLE = gettext_lazy("Only a queued or running backtest can be cancelled.")
STILL_RUNNING = gettext_lazy("Cancel the backtest before deleting it.")
WORKER_LOST = gettext_lazy("The worker stopped while running this backtest (no sign of life for %(seconds)s s).")
TIME_LIMIT = gettext_lazy("The backtest took longer than the time limit of %(seconds)s s.")
CANCELLED_BY_USER = gettext_lazy("Cancelled.")
DATA_GONE = gettext_lazy("The market data changed since the backtest was queued: %(error)s")
ENGINE_FAILED = gettext_lazy("The engine failed: %(error)s")

# progress is written and pushed at most this often (plus at 0 % and 100 %)
PROGRESS_INTERVAL_S = 0.25


class Cancelled(Exception):
    """The run was cancelled while it ran."""


def _payload(run: BacktestRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": str(RunStatus(run.status).label),
        "progress": run.progress,
        "error": run.error,
        "title": run.title,
        "total_return": run.total_return,
        "sweep": run.sweep_id,
    }


def _push(run: BacktestRun, event: str) -> None:
    events.publish(user_id=run.owner_id, event=event, payload=_payload(run))


def backtest_start(
    *, user: User, spec: Spec, title: str, strategy=None, submission_key: str = "", sweep=None,
) -> BacktestRun:
    """Freeze ``spec`` into a queued run and enqueue it on commit.

    The same ``submission_key`` twice (a double click) returns the first run instead of a second.
    Raises ApplicationError when the user's plan caps concurrent runs.
    """
    if submission_key:
        existing = BacktestRun.objects.filter(owner=user, submission_key=submission_key).first()
        if existing is not None:
            return existing
    backtest_limits_check(user=user)
    try:
        with transaction.atomic():
            run = BacktestRun.objects.create(
                owner=user, strategy=strategy, sweep=sweep, title=title[:160], strategy_type=spec.strategy_type,
                params=spec.params, codes=spec.codes, start=spec.start, end=spec.end, cash=spec.cash,
                commission=spec.commission, sell_tax=spec.sell_tax, slippage_bps=spec.slippage_bps,
                fill=spec.fill, accounts=spec.accounts, options=spec.options, coverage=spec.coverage,
                engine_version=ENGINE_VERSION, submission_key=submission_key,
            )
            _push(run, EVENT_PROGRESS)
            transaction.on_commit(lambda: _enqueue(run.pk))
    except IntegrityError:
        if submission_key:  # the other click won the race
            return BacktestRun.objects.get(owner=user, submission_key=submission_key)
        raise
    return run


def backtest_limits_check(*, user: User) -> None:
    """Refuse a new run past the plan's concurrent runs or backtests per day (Asia/Seoul); the
    message names the limit and the plan that lifts it."""
    limits = plan_limits(user=user)
    active = BacktestRun.objects.filter(owner=user, status__in=ACTIVE_STATUSES).count()
    if active >= limits.max_concurrent_backtests:
        raise ApplicationError(f"{limit_message(limits=limits, field='max_concurrent_backtests')} "
                               f"{TOO_MANY_RUNNING % {'count': active}}", code="plan_limit")
    if (today := backtests_today(user=user)) >= limits.max_backtests_per_day:
        raise ApplicationError(f"{limit_message(limits=limits, field='max_backtests_per_day')} "
                               f"{TOO_MANY_TODAY % {'count': today}}", code="plan_limit")


def _enqueue(run_id: int) -> None:
    from backtests.tasks import run_backtest

    result = run_backtest.delay(run_id=run_id)
    BacktestRun.objects.filter(pk=run_id, task_id="").update(task_id=result.id or "")


def backtest_rerun(*, user: User, run: BacktestRun, submission_key: str = "") -> BacktestRun:
    """A new run of exactly the same frozen inputs (checked again against today's data)."""
    from backtests.validation import backtest_spec_check

    spec = backtest_spec_check(
        strategy_type=run.strategy_type, params=run.params, codes=run.codes, start=run.start, end=run.end,
        cash=run.cash, commission=run.commission, sell_tax=run.sell_tax, slippage_bps=run.slippage_bps,
        fill=run.fill, accounts=run.accounts, options=run.options, user=user,
    )
    return backtest_start(user=user, spec=spec, title=run.title, strategy=run.strategy,
                          submission_key=submission_key)


def backtest_cancel(*, user: User, run: BacktestRun) -> BacktestRun:
    """Cancel a queued or running run; the task notices at its next progress step."""
    with transaction.atomic():
        updated = BacktestRun.objects.filter(pk=run.pk, owner=user, status__in=ACTIVE_STATUSES).update(
            status=RunStatus.CANCELLED, finished_at=timezone.now(), error=str(CANCELLED_BY_USER),
        )
        run.refresh_from_db()
        if not updated:
            raise ApplicationError(str(NOT_CANCELLABLE), code="not_cancellable")
        _push(run, EVENT_FINISHED)
    if run.task_id:
        from celery import current_app

        transaction.on_commit(lambda: current_app.control.revoke(run.task_id))
    return run


def backtest_delete(*, user: User, run: BacktestRun) -> None:
    if run.is_active:
        raise ApplicationError(str(STILL_RUNNING), code="still_running")
    name = run.result_file.name
    with transaction.atomic():
        BacktestRun.objects.filter(pk=run.pk, owner=user).delete()
    if name:
        results.forget(name)
        run.result_file.storage.delete(name)


def _claim(run_id: int) -> BacktestRun | None:
    """Move a queued run to running; None when it is not queued any more.

    A run already "running" when its task starts again was claimed by a worker that died (the
    broker redelivered the late-acknowledged message): it is failed, not run twice.
    """
    now = timezone.now()
    with transaction.atomic():
        run = BacktestRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return None
        if run.status == RunStatus.RUNNING:
            _fail(run, _owner_text(run.owner_id, WORKER_LOST, seconds=settings.BACKTEST_STALE_SECONDS))
            return None
        if run.status != RunStatus.QUEUED:
            return None
        run.status, run.started_at, run.heartbeat_at, run.progress = RunStatus.RUNNING, now, now, 0
        run.save(update_fields=["status", "started_at", "heartbeat_at", "progress", "updated_at"])
        _push(run, EVENT_PROGRESS)
    return run


def _owner_text(owner_id: int, message, **params) -> str:
    """A message stored for the owner to read later, in the owner's language: the worker or the beat
    sweep that writes it has no request to take a language from."""
    from accounts.models import User

    language = User.objects.filter(pk=owner_id).values_list("language", flat=True).first()
    with translation.override(language or settings.LANGUAGE_CODE):
        return str(message % params) if params else str(message)


def _fail(run: BacktestRun, message: str) -> None:
    run.status, run.error, run.finished_at = RunStatus.FAILED, message[:2000], timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "updated_at"])
    _push(run, EVENT_FINISHED)


class _Progress:
    """The engine's progress callback: writes and pushes progress, and stops a cancelled run."""

    def __init__(self, run: BacktestRun) -> None:
        self.run = run
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        percent = min(99, int(fraction * 100))
        if now - self.last < PROGRESS_INTERVAL_S and fraction < 1.0:
            return
        self.last = now
        try:
            with transaction.atomic():
                updated = BacktestRun.objects.filter(pk=self.run.pk, status=RunStatus.RUNNING).update(
                    progress=percent, heartbeat_at=timezone.now(),
                )
                if not updated:
                    raise Cancelled
                self.run.progress = percent
                _push(self.run, EVENT_PROGRESS)
        except OperationalError as error:
            # SQLite's write lock not had in time (embedded mode, a busy moment): a progress step is
            # not worth the run. The next step writes again; the outcome is written at the end.
            logger.warning("backtest %s: progress %s%% not saved: %s", self.run.pk, percent, error)


def backtest_execute(*, run_id: int) -> BacktestRun | None:
    """Run a queued run to its end: load bars, signals, engine, store the result, push the outcome."""
    from backtests.pipeline import NoBarsError, panel_from_store, run_strategy

    run = _claim(run_id)
    if run is None:
        return None
    progress = _Progress(run)
    started = time.perf_counter()
    try:
        panel, markets = panel_from_store(bar_store(), run.codes, run.start, run.end)
        config = engine_config(
            cash=run.cash, commission=run.commission, sell_tax=run.sell_tax, slippage_bps=run.slippage_bps,
            fill=run.fill, accounts=run.accounts, options=run.options,
            crypto=all(market == "CRYPTO" for market in markets),
        )
        result = run_strategy(panel, strategy_type=run.strategy_type, params=run.params, config=config,
                              markets=markets, progress=progress, lots=instrument_lots(codes=panel.symbols))
        metrics = result.metrics
        name = results.save(run_id=run.pk, owner_id=run.owner_id, result=result)
    except Cancelled:
        run.refresh_from_db()
        return run
    except NoBarsError as error:
        _finish_failed(run, _owner_text(run.owner_id, DATA_GONE, error=error))
        return run
    except Exception as error:  # the run must end in a final state whatever broke
        logger.exception("backtest %s failed", run.pk)
        _finish_failed(run, _owner_text(run.owner_id, ENGINE_FAILED, error=error))
        return run
    return _finish_succeeded(run, metrics=metrics, name=name, seconds=time.perf_counter() - started)


def _finish_failed(run: BacktestRun, message: str) -> None:
    with transaction.atomic():
        run = BacktestRun.objects.select_for_update().get(pk=run.pk)
        if run.status == RunStatus.RUNNING:
            _fail(run, message)


def _finish_succeeded(run: BacktestRun, *, metrics: dict, name: str, seconds: float) -> BacktestRun:
    clean = results.jsonable(metrics)
    with transaction.atomic():
        run = BacktestRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.RUNNING:  # cancelled at the last moment: keep the cancel
            run.result_file.storage.delete(name)
            return run
        run.status, run.progress, run.finished_at, run.duration_s = RunStatus.SUCCEEDED, 100, timezone.now(), seconds
        run.result_file.name = name
        for field in ("total_return", "cagr", "max_drawdown", "sharpe", "sortino", "win_rate", "avg_trade_return",
                      "exposure", "final_equity"):
            setattr(run, field, clean.get(field))
        run.trades = clean.get("trades") or 0
        run.benchmark_return = (clean.get("benchmark") or {}).get("total_return")
        run.save()
        _push(run, EVENT_FINISHED)
    return run


def backtest_fail_stale(*, now: dt.datetime | None = None) -> int:
    """Fail runs whose worker went silent (no heartbeat) or that outlived the task time limit."""
    now = now or timezone.now()
    silent = now - dt.timedelta(seconds=settings.BACKTEST_STALE_SECONDS)
    too_old = now - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    failed = 0
    for run in BacktestRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=silent):
        with transaction.atomic():
            locked = BacktestRun.objects.select_for_update().get(pk=run.pk)
            if locked.status != RunStatus.RUNNING or locked.heartbeat_at >= silent:
                continue
            if locked.started_at and locked.started_at < too_old:
                _fail(locked, _owner_text(locked.owner_id, TIME_LIMIT, seconds=settings.CELERY_TASK_TIME_LIMIT))
            else:
                _fail(locked, _owner_text(locked.owner_id, WORKER_LOST, seconds=settings.BACKTEST_STALE_SECONDS))
            failed += 1
    failed += _fail_stale_sweeps(silent)
    return failed


def _fail_stale_sweeps(silent: dt.datetime) -> int:
    """Sweeps whose chunks stopped reporting (their worker died) end as failed."""
    from backtests.models import BacktestSweep

    stale = BacktestSweep.objects.filter(status=RunStatus.RUNNING, updated_at__lt=silent)
    count = 0
    for sweep in stale:
        message = _owner_text(sweep.owner_id, WORKER_LOST, seconds=settings.BACKTEST_STALE_SECONDS)
        updated = BacktestSweep.objects.filter(pk=sweep.pk, status=RunStatus.RUNNING, updated_at__lt=silent).update(
            status=RunStatus.FAILED, error=message, finished_at=timezone.now())
        if updated:
            count += 1
            events.publish(user_id=sweep.owner_id, event="sweep.finished",
                               payload={"id": sweep.pk, "status": RunStatus.FAILED, "error": message})
    return count


def backtest_time_limit(*, run_id: int) -> None:
    """The task hit its soft time limit."""
    with transaction.atomic():
        run = BacktestRun.objects.select_for_update().filter(pk=run_id).first()
        if run is not None and run.status == RunStatus.RUNNING:
            _fail(run, _owner_text(run.owner_id, TIME_LIMIT, seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT))

