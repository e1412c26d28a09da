"""Parameter sweeps: a grid over one or two parameters, run as a Celery group of chunks.

``sweep_start`` checks the base request once, creates one ``SweepCell`` per combination and
enqueues one task per chunk of cells; each chunk loads the bars once, runs its cells, writes their
metrics and the sweep's counters (the merge is the cells table itself, so no result backend is
needed); the chunk that completes the grid marks the sweep succeeded. Progress goes to the owner's
websocket as ``sweep.progress`` / ``sweep.finished``. Any cell can be opened as a full run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from backtests import results, services
from backtests.engine.report import summary_metrics
from backtests.models import ACTIVE_STATUSES, BacktestRun, BacktestSweep, RunStatus, SweepCell
from backtests.validation import ENGINE_VERSION, Spec, backtest_spec_check, engine_config
from marketdata.selectors import bar_store, instrument_lots
from core import events
from core.errors import ApplicationError
from coupons.selectors import limit_message, plan_limits
from strategies import signals
from strategies.schema import param_errors, translate_param_message
from strategies.signals.params import format_number

logger = logging.getLogger(__name__)

EVENT_PROGRESS = "sweep.progress"
EVENT_FINISHED = "sweep.finished"
# metric -> True when higher is better (drawdowns are negative fractions: closer to 0 is better)
METRICS = {"sharpe": True, "total_return": True, "cagr": True, "sortino": True, "calmar": True, "max_drawdown": True,
           "win_rate": True, "profit_factor": True, "trades": True}
CELL_METRICS = ("total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate", "profit_factor",
                "trades", "exposure", "final_equity")
CELLS_PER_CHUNK = 8

NOT_A_PARAMETER = gettext_lazy("Choose a numeric parameter of this strategy type.")
SAME_PARAMETER = gettext_lazy("Choose a different parameter for the second axis.")
NO_VALUES = gettext_lazy("Enter at least one value.")
BAD_VALUES = gettext_lazy("Enter numbers separated by commas, or a range like 5:50:5 (start:stop:step).")
TOO_MANY_CELLS = gettext_lazy("The grid has %(cells)s combinations.")
UNKNOWN_METRIC = gettext_lazy("Unknown metric.")
VALUE_REFUSED = gettext_lazy("%(value)s: %(message)s")
MAX_AXIS_VALUES = 10_000  # values of one axis before the plan's cell limit is even asked


def _number(raw: Any) -> float:
    """A finite float of ``raw``; raises ValueError for anything else (``inf``, ``True``, 400 digits)."""
    if isinstance(raw, bool):
        raise ValueError(raw)
    try:
        value = float(raw)
    except OverflowError:  # an int too large for a float
        raise ValueError(raw) from None
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def parse_values(raw: str | Sequence[Any]) -> list[float]:
    """``"5, 10, 20"``, ``"5:50:5"`` (inclusive stop) or a list -> numbers; raises ValueError (only)."""
    if not isinstance(raw, str):
        values = [_number(value) for value in raw]
    elif ":" in raw:
        parts = [_number(part) for part in raw.split(":")]
        if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
            raise ValueError(raw)
        start, stop, step = parts
        steps = (stop - start) / step  # inf for a step of 1e-300
        if not math.isfinite(steps) or steps > MAX_AXIS_VALUES:
            raise ValueError(raw)
        count = int(math.floor(steps + 1e-9)) + 1
        values = [round(start + i * step, 10) for i in range(count)]
    else:
        values = [_number(part) for part in raw.replace(",", " ").split()]
    if len(values) > MAX_AXIS_VALUES:
        raise ValueError(raw)
    return list(dict.fromkeys(int(v) if v.is_integer() else v for v in values))


def _axis(strategy_type: str, name: str, raw: Any, field: str, errors: dict[str, list[str]]) -> list:
    numeric = {param.name: param for param in signals.get(strategy_type).PARAMS if param.type in (int, float)}
    if name not in numeric:
        errors[f"{field}_param"] = [str(NOT_A_PARAMETER)]
        return []
    try:
        values = parse_values(raw)
    except (TypeError, ValueError):
        errors[f"{field}_values"] = [str(BAD_VALUES)]
        return []
    if not values:
        errors[f"{field}_values"] = [str(NO_VALUES)]
    for value in values:  # each value within the parameter's own bounds (the schema's messages)
        try:
            numeric[name].parse(value)
        except ValueError as error:
            message = translate_param_message(strategy_type, str(error))
            shown = format_number(value) if abs(value) < 1e15 else f"{float(value):g}"
            errors[f"{field}_values"] = [str(VALUE_REFUSED % {"value": shown, "message": message})]
            return []
    return values


def sweep_start(
    *, user: User, spec: Spec, title: str, x_param: str, x_values: Any, y_param: str = "", y_values: Any = (),
    metric: str = "sharpe", strategy=None, submission_key: str = "",
) -> BacktestSweep:
    """Check the grid against the type's schema and the plan, save the cells, enqueue the chunks."""
    if submission_key:
        existing = BacktestSweep.objects.filter(owner=user, submission_key=submission_key).first()
        if existing is not None:
            return existing
    errors: dict[str, list[str]] = {}
    xs = _axis(spec.strategy_type, x_param, x_values, "x", errors)
    ys: list = []
    if y_param:
        if y_param == x_param:
            errors["y_param"] = [str(SAME_PARAMETER)]
        else:
            ys = _axis(spec.strategy_type, y_param, y_values, "y", errors)
    if metric not in METRICS:
        errors["metric"] = [str(UNKNOWN_METRIC)]
    cells = len(xs) * max(len(ys), 1)
    limits = plan_limits(user=user)
    if not errors and cells > limits.max_sweep_cells:
        errors["x_values"] = [f"{limit_message(limits=limits, field='max_sweep_cells')} "
                              f"{TOO_MANY_CELLS % {'cells': cells}}"]
    if errors:
        raise ValidationError(errors)
    active = BacktestSweep.objects.filter(owner=user, status__in=ACTIVE_STATUSES).count()
    if active >= limits.max_concurrent_backtests:
        raise ApplicationError(f"{limit_message(limits=limits, field='max_concurrent_backtests')} "
                               f"{services.TOO_MANY_RUNNING % {'count': active}}", code="plan_limit")
    try:
        with transaction.atomic():
            sweep = BacktestSweep.objects.create(
                owner=user, strategy=strategy, title=title[:160], strategy_type=spec.strategy_type,
                params=spec.params, codes=spec.codes, start=spec.start, end=spec.end, cash=spec.cash,
                commission=spec.commission, sell_tax=spec.sell_tax, slippage_bps=spec.slippage_bps, fill=spec.fill,
                accounts=spec.accounts, options=spec.options, x_param=x_param, x_values=xs, y_param=y_param,
                y_values=ys, metric=metric, cells_total=cells, submission_key=submission_key,
                engine_version=ENGINE_VERSION,
            )
            rows = []
            for yi, y in enumerate(ys or [None]):
                for xi, x in enumerate(xs):
                    params = {**spec.params, x_param: x, **({y_param: y} if y_param else {})}
                    rows.append(SweepCell(sweep=sweep, x_index=xi, y_index=yi, params=params))
            SweepCell.objects.bulk_create(rows)
            ids = list(sweep.cells.order_by("id").values_list("id", flat=True))
            chunks = [ids[i:i + CELLS_PER_CHUNK] for i in range(0, len(ids), CELLS_PER_CHUNK)]
            sweep.chunks = len(chunks)
            sweep.save(update_fields=["chunks"])
            _push(sweep, EVENT_PROGRESS)
            transaction.on_commit(lambda: _enqueue(sweep.pk, chunks))
    except IntegrityError:
        if submission_key:
            return BacktestSweep.objects.get(owner=user, submission_key=submission_key)
        raise
    return sweep


def _enqueue(sweep_id: int, chunks: list[list[int]]) -> None:
    from celery import group

    from backtests.tasks import run_sweep_chunk

    group(run_sweep_chunk.s(sweep_id=sweep_id, cell_ids=chunk) for chunk in chunks).apply_async()


def _push(sweep: BacktestSweep, event: str) -> None:
    events.publish(user_id=sweep.owner_id, event=event, payload={
        "id": sweep.pk, "status": sweep.status, "progress": sweep.progress, "cells_done": sweep.cells_done,
        "cells_total": sweep.cells_total, "error": sweep.error,
    })


def sweep_execute_chunk(*, sweep_id: int, cell_ids: list[int]) -> None:
    """Run some cells of a sweep (one task of the group)."""
    from backtests.pipeline import panel_from_store, run_strategy

    with transaction.atomic():
        sweep = BacktestSweep.objects.select_for_update().filter(pk=sweep_id).first()
        if sweep is None or sweep.status not in ACTIVE_STATUSES:
            return
        if sweep.status == RunStatus.QUEUED:
            sweep.status, sweep.started_at = RunStatus.RUNNING, timezone.now()
            sweep.save(update_fields=["status", "started_at", "updated_at"])
    try:
        panel, markets = panel_from_store(bar_store(), sweep.codes, sweep.start, sweep.end)
        config = engine_config(cash=sweep.cash, commission=sweep.commission, sell_tax=sweep.sell_tax,
                               slippage_bps=sweep.slippage_bps, fill=sweep.fill, accounts=sweep.accounts,
                               options=sweep.options, crypto=all(m == "CRYPTO" for m in markets))
        lots = instrument_lots(codes=panel.symbols)
    except Exception as error:  # no data any more: every cell of the chunk fails the same way
        logger.exception("sweep %s chunk failed to load", sweep_id)
        _finish_chunk(sweep_id, {cell_id: ({}, str(error)[:500]) for cell_id in cell_ids})
        return
    outcome: dict[int, tuple[dict, str]] = {}
    for cell in SweepCell.objects.filter(pk__in=cell_ids, sweep_id=sweep_id):
        if not _heartbeat(sweep_id):
            return  # cancelled, or failed by the stale sweep
        try:
            result = run_strategy(panel, strategy_type=sweep.strategy_type, params=cell.params, config=config,
                                  markets=markets, lots=lots)
            metrics = results.jsonable(summary_metrics(result, with_benchmark=False))
            outcome[cell.pk] = ({name: metrics.get(name) for name in CELL_METRICS}, "")
        except signals.ParamError as error:  # a contradictory combination (fast >= slow): that cell only
            outcome[cell.pk] = ({}, " ".join(m for msgs in param_errors(sweep.strategy_type, error).values()
                                              for m in msgs)[:500])
    _finish_chunk(sweep_id, outcome)


def _heartbeat(sweep_id: int) -> bool:
    """Tell the stale sweep this chunk is alive; False when the sweep is not running any more.

    A heartbeat that does not get SQLite's write lock in time (embedded mode, a busy moment) is
    skipped rather than losing the chunk: the next cell's writes again, the outcome at the end.
    """
    running = BacktestSweep.objects.filter(pk=sweep_id, status=RunStatus.RUNNING)
    try:
        return bool(running.update(updated_at=timezone.now()))
    except OperationalError as error:
        logger.warning("sweep %s: heartbeat not saved: %s", sweep_id, error)
        return running.exists()  # a read never waits for the writer (WAL)


def _finish_chunk(sweep_id: int, outcome: dict[int, tuple[dict, str]]) -> None:
    with transaction.atomic():
        cells = [SweepCell(pk=cell_id, metrics=metrics, error=error) for cell_id, (metrics, error) in outcome.items()]
        SweepCell.objects.bulk_update(cells, ["metrics", "error"])
        BacktestSweep.objects.filter(pk=sweep_id).update(
            cells_done=F("cells_done") + len(outcome), chunks_done=F("chunks_done") + 1, updated_at=timezone.now())
        sweep = BacktestSweep.objects.select_for_update().get(pk=sweep_id)
        if sweep.status == RunStatus.RUNNING and sweep.chunks_done >= sweep.chunks:
            sweep.status, sweep.finished_at = RunStatus.SUCCEEDED, timezone.now()
            sweep.save(update_fields=["status", "finished_at", "updated_at"])
            _push(sweep, EVENT_FINISHED)
        else:
            _push(sweep, EVENT_PROGRESS)


def sweep_cancel(*, user: User, sweep: BacktestSweep) -> BacktestSweep:
    updated = BacktestSweep.objects.filter(pk=sweep.pk, owner=user, status__in=ACTIVE_STATUSES).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now())
    if not updated:
        raise ApplicationError(str(services.NOT_CANCELLABLE), code="not_cancellable")
    sweep.refresh_from_db()
    _push(sweep, EVENT_FINISHED)
    return sweep


def sweep_delete(*, user: User, sweep: BacktestSweep) -> None:
    if sweep.status in ACTIVE_STATUSES:
        raise ApplicationError(str(services.STILL_RUNNING), code="still_running")
    BacktestSweep.objects.filter(pk=sweep.pk, owner=user).delete()


def sweep_best(sweep: BacktestSweep) -> SweepCell | None:
    """The cell with the best value of the sweep's metric (ties: the first in grid order)."""
    higher = METRICS.get(sweep.metric, True)
    best, best_value = None, None
    for cell in sweep.cells.all():
        value = cell.metrics.get(sweep.metric)
        if value is None:
            continue
        if best_value is None or (value > best_value if higher else value < best_value):
            best, best_value = cell, value
    return best


def sweep_cell_run(*, user: User, sweep: BacktestSweep, cell: SweepCell) -> BacktestRun:
    """Open a cell as a full run (checked again against today's data)."""
    spec = backtest_spec_check(
        strategy_type=sweep.strategy_type, params=cell.params, codes=sweep.codes, start=sweep.start, end=sweep.end,
        cash=sweep.cash, commission=sweep.commission, sell_tax=sweep.sell_tax, slippage_bps=sweep.slippage_bps,
        fill=sweep.fill, accounts=sweep.accounts, options=sweep.options, user=user,
    )
    label = ", ".join(f"{name}={cell.params[name]}" for name in (sweep.x_param, sweep.y_param) if name)
    return services.backtest_start(user=user, spec=spec, title=f"{sweep.title} ({label})"[:160],
                                   strategy=sweep.strategy, sweep=sweep)
