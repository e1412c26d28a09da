"""Backtest reads, always scoped to the owner: another user's run or sweep is not found (404)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import F, QuerySet
from django.http import Http404

from accounts.models import User
from backtests.models import BacktestRun, BacktestSweep, RunStatus

# the metric columns history can sort by, and their direction-free names
SORTS = {
    "created": "created_at",
    "total_return": "total_return",
    "cagr": "cagr",
    "max_drawdown": "max_drawdown",
    "sharpe": "sharpe",
    "win_rate": "win_rate",
    "trades": "trades",
    "exposure": "exposure",
}


def backtest_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[BacktestRun]:
    """The user's runs, newest first, narrowed by ``filters``.

    ``symbol`` (a code), ``strategy`` (id), ``strategy_type``, ``status``, ``since``/``until``
    (dates of creation, inclusive), ``sort`` (a key of :data:`SORTS`, ``-`` for descending;
    runs without the metric come last). Sweep cells run as full runs are included.
    """
    filters = filters or {}
    runs = BacktestRun.objects.filter(owner=user).select_related("strategy")
    if symbol := str(filters.get("symbol") or "").strip().upper():
        runs = runs.filter(universe__contains=f" {symbol} ")
    if strategy := filters.get("strategy"):
        runs = runs.filter(strategy_id=strategy)
    if strategy_type := filters.get("strategy_type"):
        runs = runs.filter(strategy_type=strategy_type)
    if status := filters.get("status"):
        runs = runs.filter(status=status)
    if since := filters.get("since"):
        runs = runs.filter(created_at__date__gte=since)
    if until := filters.get("until"):
        runs = runs.filter(created_at__date__lte=until)
    sort = str(filters.get("sort") or "")
    key = sort.lstrip("-")
    if key in SORTS:
        column = F(SORTS[key])
        ordered = column.desc(nulls_last=True) if sort.startswith("-") else column.asc(nulls_last=True)
        runs = runs.order_by(ordered, "-id")
    return runs


def backtest_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The filters of :func:`backtest_list` from query parameters (pages and API alike)."""
    return {
        "symbol": params.get("symbol"), "strategy": params.get("strategy") or None,
        "strategy_type": params.get("strategy_type"), "status": params.get("status"),
        "since": parse_date(params.get("since")), "until": parse_date(params.get("until")),
        "sort": params.get("sort") or "",
    }


def backtest_get(*, user: User, pk: int) -> BacktestRun:
    run = BacktestRun.objects.select_related("strategy", "sweep").filter(owner=user, pk=pk).first()
    if run is None:
        raise Http404("No such backtest")
    return run


def backtest_many(*, user: User, pks: list[int]) -> list[BacktestRun]:
    """Runs by id in the given order; raises Http404 when any is not the user's."""
    runs = {run.pk: run for run in BacktestRun.objects.filter(owner=user, pk__in=pks)}
    if len(runs) != len(set(pks)):
        raise Http404("No such backtest")
    return [runs[pk] for pk in dict.fromkeys(pks)]


def backtest_latest(*, user: User) -> BacktestRun | None:
    """The user's latest succeeded run (the signal viewer's default)."""
    return (
        BacktestRun.objects.filter(owner=user, status=RunStatus.SUCCEEDED)
        .order_by("-finished_at", "-id").first()
    )


def sweep_list(*, user: User) -> QuerySet[BacktestSweep]:
    return BacktestSweep.objects.filter(owner=user)


def sweep_get(*, user: User, pk: int) -> BacktestSweep:
    sweep = BacktestSweep.objects.filter(owner=user, pk=pk).first()
    if sweep is None:
        raise Http404("No such sweep")
    return sweep


def parse_date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def sweep_cell_get(*, sweep: BacktestSweep, pk: int):
    """A cell of a sweep already fetched through :func:`sweep_get` (so already the user's)."""
    cell = sweep.cells.filter(pk=pk).first()
    if cell is None:
        raise Http404("No such cell")
    return cell
