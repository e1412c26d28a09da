"""Pages under /backtests/ and the signal viewer at /viewer/.

Thin: parse with a form, fetch through a selector (another user's run or sweep is a 404), call a
service, render. Progress and outcomes arrive over the user's websocket (static/js/backtests.js);
the pages never poll.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from backtests import results, selectors, services, sweeps, validation
from backtests.api import DOWNLOADS, download_response
from backtests.forms import METRIC_LABELS, BacktestForm, SweepForm
from backtests.models import BacktestRun, RunStatus
from core import edge, limits
from core.errors import ApplicationError
from marketdata.selectors import instrument_names
from strategies import schema, signals
from strategies import selectors as strategy_selectors

RUN_DELETED = _("Backtest “{title}” was deleted.")
RUN_CANCELLED = _("The backtest was cancelled.")
RERUN_STARTED = _("A new run of the same inputs was started.")
COMPARE_NEEDS_TWO = _("Pick at least two runs to compare.")
NOT_FINISHED = _("This backtest has no results: it did not succeed.")
CHANGE_ACTION = "change_type"
HISTORY_PAGE_SIZE = 25
TRADES_PAGE_SIZE = 50
TRADE_SORTS = ("entry_date", "-entry_date", "net_return", "-net_return", "exit_reason", "-exit_reason")
MARKER_LIMIT = 5000
VIEWER_RECENT = 20

# metric cards: (field, label, format: a signed "pct" return, an unsigned "share" of a whole, "ratio",
# "int"); the benchmark has only the equity metrics
CARDS = [
    ("total_return", _("Total return"), "pct"), ("cagr", _("CAGR"), "pct"), ("max_drawdown", _("Max drawdown"), "pct"),
    ("sharpe", _("Sharpe"), "ratio"), ("win_rate", _("Win rate"), "share"),
    ("avg_trade_return", _("Average trade return"), "pct"), ("trades", _("Trades"), "int"),
    ("exposure", _("Exposure"), "share"),
]
HISTORY_SORTS = [("total_return", _("Return")), ("cagr", _("CAGR")), ("max_drawdown", _("MDD")),
                 ("sharpe", _("Sharpe")), ("win_rate", _("Win rate")), ("trades", _("Trades"))]


def _stored(run: BacktestRun) -> results.RunResult:
    if run.status != RunStatus.SUCCEEDED or not run.result_file:
        raise Http404(NOT_FINISHED)
    return results.load(run.result_file.name)


# ---------------------------------------------------------------------------------------------------
# New backtest
# ---------------------------------------------------------------------------------------------------
def _form_page(request: HttpRequest, form: BacktestForm, *, template: str = "backtests/new.html",
               status: int = 200, **extra: Any) -> HttpResponse:
    context = {"page_title": _("New backtest"), "nav": "backtests", "form": form, "change_action": CHANGE_ACTION,
               **extra}
    return render(request, template, context, status=status)


def _initial(request: HttpRequest) -> dict[str, Any]:
    if pk := request.GET.get("from", "").strip():
        run = selectors.backtest_get(user=request.user, pk=_int_or_404(pk))
        return BacktestForm.initial_for_run(run)
    if pk := request.GET.get("strategy", "").strip():
        strategy = strategy_selectors.strategy_get(user=request.user, pk=_int_or_404(pk))
        return BacktestForm.initial_for_strategy(strategy)
    initial = BacktestForm.defaults()
    if request.GET.get("strategy_type") in signals.REGISTRY:
        initial["strategy_type"] = request.GET["strategy_type"]
    return initial


def _int_or_404(value: str) -> int:
    """An id from a query string, or a 404 (not a number, or none a database could hold)."""
    pk = limits.id_or_none(value)
    if pk is None:
        raise Http404(value)
    return pk


def _submitted(request: HttpRequest, form_class: type[BacktestForm]) -> tuple[BacktestForm, bool]:
    """The posted form and whether the user only switched the type or the strategy (no JavaScript)."""
    if request.POST.get("action") == CHANGE_ACTION:
        initial = form_class.initial_after_change(request.POST)
        if initial.get("strategy"):
            strategy = strategy_selectors.strategy_get(user=request.user, pk=_int_or_404(initial["strategy"]))
            initial = {**initial, **form_class.initial_for_strategy(strategy)}
        return form_class(user=request.user, initial=initial), True
    return form_class(request.POST, user=request.user), False


def _checked(request: HttpRequest, form: BacktestForm) -> validation.Request | None:
    """The validated request, or None with every message on the form."""
    if not form.is_valid():
        return None
    try:
        return validation.backtest_request_check(user=request.user, fields=form.request_fields())
    except ValidationError as error:
        form.add_service_errors(error)
        return None


@login_required
def new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, BacktestForm(user=request.user, initial=_initial(request)))
    form, only_changed = _submitted(request, BacktestForm)
    if only_changed:
        return _form_page(request, form)
    checked = _checked(request, form)
    if checked is not None:
        try:
            run = services.backtest_start(user=request.user, spec=checked.spec, title=checked.title,
                                          strategy=checked.strategy,
                                          submission_key=form.cleaned_data.get("submission_key") or "")
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            return redirect("backtests:detail", pk=run.pk)
    return _form_page(request, form, status=400)


@login_required
@require_GET
def param_fields(request: HttpRequest) -> HttpResponse:
    """The parameter fields of one type, swapped into the form by htmx when the type changes."""
    chosen = request.GET.get("strategy_type")
    if chosen not in signals.REGISTRY:
        raise Http404(chosen)
    form_class = SweepForm if request.GET.get("sweep") else BacktestForm
    form = form_class(user=request.user, initial={"strategy_type": chosen})
    return render(request, "backtests/_param_fields.html", {"form": form})


# ---------------------------------------------------------------------------------------------------
# One run: progress, results, actions
# ---------------------------------------------------------------------------------------------------
def _cards(run: BacktestRun, stored: results.RunResult) -> list[dict[str, Any]]:
    bench = stored.metrics.get("benchmark") or {}
    return [{"key": key, "label": label, "format": kind, "value": getattr(run, key), "benchmark": bench.get(key)}
            for key, label, kind in CARDS]


def _frozen(run: BacktestRun, names: dict[str, str]) -> dict[str, Any]:
    return {
        "type_label": schema.type_label(run.strategy_type),
        "params": [(schema.param_label(run.strategy_type, name), value) for name, value in run.params.items()],
        "codes": [(code, names.get(code, ""), run.coverage.get(code) or {}) for code in run.codes],
        "risk": validation.risk_fields(run.options),
        "commission_pct": run.commission * 100,
        "sell_tax_pct": None if run.sell_tax is None else run.sell_tax * 100,
    }


def _markers(stored: results.RunResult) -> dict[str, list[dict[str, Any]]]:
    by_symbol: dict[str, list[dict[str, Any]]] = {}
    for trade in stored.trades[:MARKER_LIMIT]:
        rows = by_symbol.setdefault(trade["symbol"], [])
        rows.append({"time": trade["entry_date"], "side": "buy", "price": trade["entry_price"]})
        if trade["exit_date"]:
            rows.append({"time": trade["exit_date"], "side": "sell", "price": trade["exit_price"],
                         "ret": trade["net_return"]})
    for rows in by_symbol.values():
        rows.sort(key=lambda row: row["time"])
    return by_symbol


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.backtest_get(user=request.user, pk=pk)
    names = instrument_names(codes=run.codes)
    context: dict[str, Any] = {"page_title": run.title, "nav": "backtests", "run": run, "frozen": _frozen(run, names),
                               "names": names, "rerun_key": uuid.uuid4().hex}
    if run.status != RunStatus.SUCCEEDED or not run.result_file:
        return render(request, "backtests/run.html", context)
    stored = results.load(run.result_file.name)
    context.update(
        cards=_cards(run, stored),
        per_symbol=[{**row, "name": names.get(row["symbol"], "")} for row in stored.per_symbol],
        histogram=stored.histogram,
        markers=_markers(stored),
        downloads=list(DOWNLOADS),
        metrics=stored.metrics,
        trades_table=_trades_context(run, request.GET, names),
    )
    if edge.page_can_keep(request):  # the finished page never changes: kept, with per-request holes
        context.update(edge.HOLES, rerun_key=edge.HOLE_ONCE)
    response = render(request, "backtests/results.html", context)
    return edge.keep(request, response, owner_id=run.owner_id, tag=f"backtest:{run.pk}")


@login_required
@require_GET
def trades(request: HttpRequest, pk: int) -> HttpResponse:
    """The trades table (htmx partial): sorted, 50 a page, coloured returns."""
    run = selectors.backtest_get(user=request.user, pk=pk)
    return render(request, "backtests/_trades.html", _trades_context(run, request.GET))


def _trades_context(run: BacktestRun, query, names: dict[str, str] | None = None) -> dict[str, Any]:
    sort = query.get("sort", "entry_date")
    sort = sort if sort in TRADE_SORTS else "entry_date"
    stored = _stored(run)
    rows = results.sorted_trades(list(stored.trades), sort)
    page = Paginator(rows, TRADES_PAGE_SIZE).get_page(query.get("page"))
    return {"run": run, "page_obj": page, "trades": page.object_list, "sort": sort,
            "names": instrument_names(codes=run.codes) if names is None else names,
            "quantity_decimals": stored.quantity_decimals}


@login_required
@require_GET
def download(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    run = selectors.backtest_get(user=request.user, pk=pk)
    if name not in DOWNLOADS:
        raise Http404(name)
    _stored(run)
    return download_response(run, name)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.backtest_get(user=request.user, pk=pk)
    try:
        services.backtest_cancel(user=request.user, run=run)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.info(request, RUN_CANCELLED)
    return redirect("backtests:detail", pk=run.pk)


@login_required
@require_POST
def rerun(request: HttpRequest, pk: int) -> HttpResponse:
    run = selectors.backtest_get(user=request.user, pk=pk)
    try:
        again = services.backtest_rerun(user=request.user, run=run,
                                        submission_key=request.POST.get("submission_key", "")[:64])
    except ValidationError as error:
        for message in (m for ms in error.message_dict.values() for m in ms):
            messages.error(request, message)
        return redirect("backtests:detail", pk=run.pk)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("backtests:detail", pk=run.pk)
    messages.info(request, RERUN_STARTED)
    return redirect("backtests:detail", pk=again.pk)


@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST deletes."""
    run = selectors.backtest_get(user=request.user, pk=pk)
    if request.method == "POST":
        try:
            services.backtest_delete(user=request.user, run=run)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("backtests:detail", pk=run.pk)
        messages.success(request, RUN_DELETED.format(title=run.title))
        return redirect("backtests:index")
    return render(request, "backtests/confirm_delete.html",
                  {"page_title": _("Delete backtest"), "nav": "backtests", "run": run})


# ---------------------------------------------------------------------------------------------------
# History and compare
# ---------------------------------------------------------------------------------------------------
@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    # a filter the list cannot use is dropped and named on the page (the rest still apply)
    ignored = selectors.backtest_filter_messages(request.GET) if request.GET else []  # none: nothing to ignore
    for message in ignored:
        messages.warning(request, message)
    runs = selectors.backtest_list(user=request.user, filters=request.GET, lenient=True)
    page = Paginator(runs, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    shown = {key: value for key, value in request.GET.items() if key not in ("page", "sort") and value}
    context = {
        "page_title": _("Backtests"), "nav": "backtests", "page_obj": page, "runs": page.object_list,
        "filters": {key: request.GET.get(key, "") for key in ("symbol", "strategy", "strategy_type", "status",
                                                              "since", "until")},
        "sort": request.GET.get("sort", ""), "filtered": bool(shown), "query": query.urlencode(),
        "sort_query": sort_query.urlencode(), "sorts": HISTORY_SORTS,
        "strategies": strategy_selectors.strategy_choices(user=request.user), "type_choices": schema.type_choices(),
        "status_choices": RunStatus.choices, "type_labels": dict(schema.type_choices()),
    }
    return render(request, "backtests/index.html", context, status=400 if ignored else 200)


@login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    ids = [_int_or_404(value) for value in request.GET.getlist("ids") if value.strip()]
    if len(set(ids)) < 2:
        messages.error(request, COMPARE_NEEDS_TWO)
        return redirect("backtests:index")
    runs = selectors.backtest_many(user=request.user, pks=ids)
    rows = [{"label": label, "format": kind, "values": [getattr(run, key) for run in runs]}
            for key, label, kind in CARDS]
    rows.append({"label": _("Buy-and-hold return"), "format": "pct", "values": [r.benchmark_return for r in runs]})
    curves = []
    for run in runs:
        if run.status == RunStatus.SUCCEEDED and run.result_file:
            series = results.load(run.result_file.name).series()
            first = next((v for v in series["equity"] if v), None)
            curves.append({"id": run.pk, "title": f"#{run.pk} {run.title}", "dates": series["dates"],
                           "values": [None if v is None or not first else round(v / first * 100, 3)
                                      for v in series["equity"]]})
    context = {"page_title": _("Compare backtests"), "nav": "backtests", "runs": runs, "rows": rows,
               "curves": curves}
    return render(request, "backtests/compare.html", context)


# ---------------------------------------------------------------------------------------------------
# Signal viewer
# ---------------------------------------------------------------------------------------------------
def _viewer_context(request: HttpRequest) -> dict[str, Any]:
    run = None
    if pk := request.GET.get("run", "").strip():
        run = selectors.backtest_get(user=request.user, pk=_int_or_404(pk))
    else:
        run = selectors.backtest_latest(user=request.user)
    rows, symbols = [], []
    symbol = request.GET.get("symbol", "").strip().upper()
    if run is not None and run.status == RunStatus.SUCCEEDED and run.result_file:
        names = instrument_names(codes=run.codes)
        symbols = [(code, names.get(code, "")) for code in run.codes]
        rows = [{**signal, "name": names.get(signal["symbol"], "")}
                for signal in reversed(results.load(run.result_file.name).signals)
                if not symbol or signal["symbol"] == symbol]
    return {"run": run, "signals": rows, "symbols": symbols, "symbol": symbol, "pinned": bool(request.GET.get("run")) and not request.GET.get("follow")}


@login_required
@require_GET
def viewer(request: HttpRequest) -> HttpResponse:
    """The latest run's signals (or ?run=<id>), updated when a new run finishes (websocket)."""
    context = _viewer_context(request)
    if request.GET.get("partial"):
        return render(request, "backtests/_signals.html", context)
    recent = selectors.backtest_list(user=request.user)[:VIEWER_RECENT]
    context.update(page_title=_("Signal viewer"), nav="viewer", recent=recent)
    return render(request, "backtests/viewer.html", context)


# ---------------------------------------------------------------------------------------------------
# Parameter sweeps
# ---------------------------------------------------------------------------------------------------
@login_required
@require_GET
def sweep_index(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.sweep_list(user=request.user), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "backtests/sweeps.html", {"page_title": _("Parameter sweeps"), "nav": "backtests",
                                                     "page_obj": page, "sweeps": page.object_list,
                                                     "metric_labels": METRIC_LABELS})


@login_required
def sweep_new(request: HttpRequest) -> HttpResponse:
    extra = {"template": "backtests/sweep_new.html"}
    if request.method != "POST":
        return _form_page(request, SweepForm(user=request.user, initial=_initial(request)), **extra)
    form, only_changed = _submitted(request, SweepForm)
    if only_changed:
        return _form_page(request, form, **extra)
    checked = _checked(request, form)
    if checked is not None:
        try:
            sweep = sweeps.sweep_start(user=request.user, spec=checked.spec, title=checked.title,
                                       strategy=checked.strategy, **form.sweep_kwargs(),
                                       submission_key=form.cleaned_data.get("submission_key") or "")
        except ValidationError as error:
            form.add_service_errors(error)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            return redirect("backtests:sweep_detail", pk=sweep.pk)
    return _form_page(request, form, status=400, **extra)


def _heatmap(sweep, cells: list) -> dict[str, Any]:
    """Rows (y values) of cells (x values) with a 0..1 shade of the metric (1 = best)."""
    higher = sweeps.METRICS.get(sweep.metric, True)
    values = [c.metrics.get(sweep.metric) for c in cells if c.metrics.get(sweep.metric) is not None]
    low, high = (min(values), max(values)) if values else (0, 0)
    grid = {(c.y_index, c.x_index): c for c in cells}
    rows = []
    for yi, y in enumerate(sweep.y_values or [None]):
        row = []
        for xi in range(len(sweep.x_values)):
            cell = grid.get((yi, xi))
            value = cell.metrics.get(sweep.metric) if cell else None
            shade = None
            if value is not None:
                shade = 0.5 if high == low else (value - low) / (high - low)
                shade = shade if higher else 1 - shade
            row.append({"cell": cell, "value": value, "shade": None if shade is None else round(shade, 3)})
        rows.append({"y": y, "cells": row})
    return {"x_values": sweep.x_values, "rows": rows}


@login_required
@require_GET
def sweep_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = selectors.sweep_get(user=request.user, pk=pk)
    cells = list(sweep.cells.all())
    best = sweeps.sweep_best(sweep) if sweep.cells_done else None
    sort = request.GET.get("sort", "")
    key = sort.lstrip("-")
    table = cells
    if key in sweeps.CELL_METRICS:
        present = [c for c in cells if c.metrics.get(key) is not None]
        table = sorted(present, key=lambda c: c.metrics[key], reverse=sort.startswith("-"))
        table += [c for c in cells if c.metrics.get(key) is None]
    context = {
        "page_title": sweep.title, "nav": "backtests", "sweep": sweep, "cells": table, "best": best,
        "heatmap": _heatmap(sweep, cells), "sort": sort, "metric_label": METRIC_LABELS.get(sweep.metric, sweep.metric),
        "x_label": schema.param_label(sweep.strategy_type, sweep.x_param),
        "y_label": schema.param_label(sweep.strategy_type, sweep.y_param) if sweep.y_param else "",
        "columns": [(name, METRIC_LABELS[name]) for name in ("total_return", "cagr", "sharpe", "max_drawdown",
                                                             "win_rate", "trades")],
        "type_label": schema.type_label(sweep.strategy_type), "active": sweep.status in (RunStatus.QUEUED,
                                                                                        RunStatus.RUNNING),
    }
    return render(request, "backtests/sweep_detail.html", context)


@login_required
@require_POST
def sweep_cell_run(request: HttpRequest, pk: int, cell_id: int) -> HttpResponse:
    sweep = selectors.sweep_get(user=request.user, pk=pk)
    cell = selectors.sweep_cell_get(sweep=sweep, pk=cell_id)
    try:
        run = sweeps.sweep_cell_run(user=request.user, sweep=sweep, cell=cell)
    except (ValidationError, ApplicationError) as error:
        text = error.message if isinstance(error, ApplicationError) else " ".join(
            m for ms in error.message_dict.values() for m in ms)
        messages.error(request, text)
        return redirect("backtests:sweep_detail", pk=sweep.pk)
    return redirect("backtests:detail", pk=run.pk)


@login_required
@require_POST
def sweep_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    sweep = selectors.sweep_get(user=request.user, pk=pk)
    try:
        sweeps.sweep_cancel(user=request.user, sweep=sweep)
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("backtests:sweep_detail", pk=sweep.pk)

