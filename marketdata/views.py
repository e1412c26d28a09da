"""Market pages: instrument search (htmx, as you type) and the instrument page with its chart."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from marketdata import selectors

SEARCH_LIMIT = 30
QUERY_MAX_LENGTH = 50
# The chart's range buttons: (key, label, calendar days back from the last bar; None = everything).
CHART_RANGES = [
    ("1m", _("1M"), 31),
    ("3m", _("3M"), 92),
    ("1y", _("1Y"), 365),
    ("5y", _("5Y"), 5 * 365 + 1),
    ("all", _("All"), None),
]
DEFAULT_CHART_RANGE = "1y"


# code -> (the bar file's version and store, its stats): read again as soon as the file changes
_STATS: dict[str, tuple[tuple[object, ...], selectors.InstrumentStats]] = {}


def _instrument_stats(code: str) -> selectors.InstrumentStats:
    """``selectors.instrument_stats``, kept per process while the code's bar file is unchanged (the page
    otherwise reads the whole history twice on every visit: its stats and its coverage)."""
    version = selectors.bar_store().file_version(code)
    if version is None:
        return selectors.instrument_stats(code=code)
    key = (str(settings.MARKET_DATA_ROOT), *version)
    kept = _STATS.get(code)
    if kept is not None and kept[0] == key:
        return kept[1]
    stats = selectors.instrument_stats(code=code)  # read after the version: never older than its key
    _STATS[code] = (key, stats)
    return stats


def _search_context(request: HttpRequest) -> dict:
    query = request.GET.get("q", "").strip()[:QUERY_MAX_LENGTH]
    results = selectors.with_data_spans(selectors.instrument_search(query=query, limit=SEARCH_LIMIT)) if query else []
    return {"query": query, "results": results, "limit": SEARCH_LIMIT}


@login_required
def index(request: HttpRequest) -> HttpResponse:
    # ?q= also works without JavaScript: the form submits here and the results render inline.
    context = {"page_title": _("Markets"), "nav": "markets", **_search_context(request)}
    return render(request, "marketdata/index.html", context)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """The result list alone, swapped into the search page by htmx as the user types."""
    return render(request, "marketdata/_search_results.html", _search_context(request))


@login_required
def detail(request: HttpRequest, code: str) -> HttpResponse:
    try:
        instrument = selectors.instrument_get(code=code)
    except selectors.UnknownInstrument as error:
        # Our own 404 page: Django's default one would not say which code is unknown.
        context = {"page_title": _("Instrument not found"), "nav": "markets", "message": error.message}
        return render(request, "marketdata/not_found.html", context, status=404)
    stats = _instrument_stats(instrument.code)
    context = {
        "page_title": f"{instrument.name} ({instrument.code})",
        "nav": "markets",
        "instrument": instrument,
        "stats": stats,
        "return_1y_pct": None if stats.return_1y is None else stats.return_1y * 100,
        "chart_ranges": CHART_RANGES,
        "default_range": DEFAULT_CHART_RANGE,
    }
    return render(request, "marketdata/detail.html", context)
