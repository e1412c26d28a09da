"""Backtest reads, always scoped to the owner: another user's run or sweep is not found (404)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from backtests.models import BacktestRun, BacktestSweep, RunStatus
from core import limits

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


FILTER_IGNORED = _("The filter “%(field)s” was ignored: %(reason)s")


class IdFilter(django_filters.NumberFilter):
    field_class = limits.IdField


class DateFilter(django_filters.DateFilter):
    field_class = limits.DateField


class BacktestFilter(django_filters.FilterSet):
    """The filters of :func:`backtest_list`, typed and bounded: a value the database cannot take
    (``strategy=abc``, an id of 20 digits, the year 9999) is an error naming its parameter."""

    symbol = django_filters.CharFilter(label=_("Symbol"), method="filter_symbol", max_length=20)
    strategy = IdFilter(label=_("Strategy"), field_name="strategy_id")
    strategy_type = django_filters.CharFilter(label=_("Strategy type"), max_length=64)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=RunStatus.choices)
    since = DateFilter(label=_("Since"), field_name="created_at", lookup_expr="date__gte")
    until = DateFilter(label=_("Until"), field_name="created_at", lookup_expr="date__lte")
    sort = django_filters.ChoiceFilter(label=_("Sort"), method="filter_sort",
                                       choices=[(value, value) for key in SORTS for value in (key, f"-{key}")])

    class Meta:
        model = BacktestRun
        fields: list[str] = []

    def filter_symbol(self, runs: QuerySet, name: str, value: str) -> QuerySet:
        symbol = value.strip().upper()
        return runs.filter(universe__contains=f" {symbol} ") if symbol else runs

    def filter_sort(self, runs: QuerySet, name: str, value: str) -> QuerySet:
        column = F(SORTS[value.lstrip("-")])
        ordered = column.desc(nulls_last=True) if value.startswith("-") else column.asc(nulls_last=True)
        return runs.order_by(ordered, "-id")


def backtest_list(
    *, user: User, filters: Mapping[str, Any] | None = None, lenient: bool = False
) -> QuerySet[BacktestRun]:
    """The user's runs, newest first, narrowed by ``filters`` (query parameters, pages and API alike).

    ``symbol`` (a code), ``strategy`` (id), ``strategy_type``, ``status``, ``since``/``until``
    (dates of creation, inclusive), ``sort`` (a key of :data:`SORTS`, ``-`` for descending;
    runs without the metric come last). Sweep cells run as full runs are included. Raises
    ``ValidationError`` naming each bad parameter, unless ``lenient`` (a page, which shows
    :func:`backtest_filter_errors` and lists with the good filters only).
    """
    runs = BacktestRun.objects.filter(owner=user).select_related("strategy")
    filterset = BacktestFilter(filters, queryset=runs)
    if filters is not None and not lenient and not filterset.is_valid():
        raise ValidationError(filterset.errors)
    return filterset.qs


def backtest_filter_errors(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each bad parameter of :func:`backtest_list` with its messages (empty when all are good)."""
    filterset = BacktestFilter(params, queryset=BacktestRun.objects.none())
    return {} if filterset.is_valid() else {name: list(messages) for name, messages in filterset.errors.items()}


def backtest_filter_messages(params: Mapping[str, Any]) -> list[str]:
    """What a page says about the filters it ignored: one :data:`FILTER_IGNORED` per bad parameter."""
    labels = {name: item.label for name, item in BacktestFilter.base_filters.items()}
    return [str(FILTER_IGNORED) % {"field": labels.get(name, name), "reason": " ".join(messages)}
            for name, messages in backtest_filter_errors(params).items()]


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


def sweep_cell_get(*, sweep: BacktestSweep, pk: int):
    """A cell of a sweep already fetched through :func:`sweep_get` (so already the user's)."""
    cell = sweep.cells.filter(pk=pk).first()
    if cell is None:
        raise Http404("No such cell")
    return cell
