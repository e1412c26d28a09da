"""Reads of market data: the instrument master (database) and daily bars (the Parquet store).

Market data is public to every logged-in user: unlike strategies or orders it has no owner,
so nothing here takes a ``user`` or filters by one. Doors (pages, API, admin) check login.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.conf import settings
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Length
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from core.errors import NotFound
from marketdata.models import Instrument
from marketdata.store import BarSet, BarStore, Coverage, Span

UNKNOWN_INSTRUMENT = _("Unknown instrument code: {code}")

# Ranks of a search hit: an exact code first, then prefixes, then substrings anywhere.
_RANK_EXACT, _RANK_PREFIX, _RANK_SUBSTRING = 0, 1, 2
_ONE_YEAR = timedelta(days=365)


class UnknownInstrument(NotFound, Http404):
    """No instrument has this code.

    Both an application error (the API answers 404 with the message in the error body) and
    an ``Http404`` (pages and plain Django views treat it as "not found").
    """

    def __init__(self, code: str) -> None:
        super().__init__(UNKNOWN_INSTRUMENT.format(code=code))
        self.instrument_code = code


@dataclass(frozen=True)
class InstrumentStats:
    """What the bars of one instrument say at a glance; every field is None without bars."""

    first: date | None
    last: date | None
    rows: int
    gaps: int | None
    last_close: float | None
    high_52w: float | None
    low_52w: float | None
    return_1y: float | None  # fraction: 0.12 is +12 %; None when there is less than a year of bars


def instrument_search(*, query: str, limit: int | None = 20) -> QuerySet[Instrument]:
    """Instruments whose code, Korean name or English name contains ``query``.

    Ranked: exact code, then prefix matches (code or either name), then substring matches;
    shorter names first within a rank (삼성전자 before 삼성전자우), then by code. Case-insensitive
    for Latin letters. An empty query returns every instrument by code. ``limit=None``
    returns an unsliced queryset (for paginated API lists).
    """
    query = query.replace("\x00", "").strip()  # PostgreSQL refuses NUL in a string (a 500, not "no match")
    instruments = Instrument.objects.all()
    if not query:
        instruments = instruments.order_by("code")
        return instruments if limit is None else instruments[:limit]
    prefix = Q(code__istartswith=query) | Q(name__istartswith=query) | Q(name_en__istartswith=query)
    substring = Q(code__icontains=query) | Q(name__icontains=query) | Q(name_en__icontains=query)
    instruments = (
        instruments.filter(substring)
        .annotate(
            search_rank=Case(
                When(code__iexact=query, then=Value(_RANK_EXACT)),
                When(prefix, then=Value(_RANK_PREFIX)),
                default=Value(_RANK_SUBSTRING),
                output_field=IntegerField(),
            ),
            name_length=Length("name"),
        )
        .order_by("search_rank", "name_length", "code")
    )
    return instruments if limit is None else instruments[:limit]


def instrument_names(*, codes: Iterable[str]) -> dict[str, str]:
    """Korean names by code, in one query (codes the master does not know are left out)."""
    return dict(Instrument.objects.filter(code__in=list(codes)).values_list("code", "name"))


def instrument_lots(*, codes: Iterable[str]) -> dict[str, tuple[float, float]]:
    """``{code: (lot size, minimum order value in KRW)}`` of the known ``codes`` (master data, not
    user data: every user trades the same lots)."""
    rows = Instrument.objects.filter(code__in=list(codes)).values_list("code", "lot_size", "min_order_value")
    return {code: (float(lot), float(minimum)) for code, lot, minimum in rows}


def instrument_get(*, code: str) -> Instrument:
    """The instrument with this code (exact, as stored). Raises ``UnknownInstrument`` (an Http404)."""
    try:
        return Instrument.objects.get(code=code)
    except Instrument.DoesNotExist:
        raise UnknownInstrument(code) from None


def bar_store() -> BarStore:
    """The bar store of this installation (``settings.MARKET_DATA_ROOT``)."""
    return BarStore(settings.MARKET_DATA_ROOT)


def instrument_bars(*, code: str, start: date | None = None, end: date | None = None) -> BarSet:
    """Daily bars of ``code`` from ``start`` to ``end`` inclusive (None: open-ended), oldest first.

    An instrument with no bars in the store gives an empty BarSet; whether the code is a
    known instrument is the caller's check (``instrument_get``).
    """
    return bar_store().read_one(code, start=start, end=end)


def instrument_last_bars(*, code: str, end: date | None = None, count: int = 2) -> BarSet:
    """The last ``count`` daily bars of ``code`` up to ``end`` inclusive, oldest first (a last price and
    the close before it), without reading the whole history each time (``BarStore.read_tail``)."""
    return bar_store().read_tail(code, end=end, count=count)


# The name the other helpers were told about; same function.
bars_for = instrument_bars


def instrument_coverage(*, code: str) -> Coverage | None:
    """First/last date, rows and gaps of ``code`` in the store, or None when it has no bars."""
    found = [coverage for coverage in bar_store().coverage([code]) if coverage.code == code]
    return found[0] if found else None


def data_spans() -> dict[str, Span]:
    """First/last date and row count of every code with bars in the store, by code.

    From the per-market snapshot index, not the bar files: cheap on every request.
    """
    return bar_store().spans()


def with_data_spans(instruments: Iterable[Instrument]) -> list[Instrument]:
    """``instruments`` as a list, each with ``data_span`` set: its :class:`Span`, or None without bars."""
    spans = data_spans()
    found = list(instruments)
    for instrument in found:
        instrument.data_span = spans.get(instrument.code)
    return found


def last_data_date(*, codes: Iterable[str] | None = None) -> date | None:
    """The last day with bars of any of ``codes`` (of any stored code when None); None when there is none."""
    spans = data_spans()
    wanted = spans.values() if codes is None else [spans[code] for code in codes if code in spans]
    return max((span.last for span in wanted), default=None)


def instrument_stats(*, code: str) -> InstrumentStats:
    """Coverage, last close, 52-week high/low and 1-year return of ``code``, from all its bars.

    The 52-week window and the 1-year return count 365 calendar days back from the last bar;
    the return compares the last close with the last close on or before that day.
    """
    bars = instrument_bars(code=code)
    if len(bars) == 0:
        return InstrumentStats(None, None, 0, None, None, None, None, None)
    coverage = instrument_coverage(code=code)
    dates = bars.date.astype("datetime64[D]")
    last_day = dates[-1]
    year_ago = last_day - np.timedelta64(_ONE_YEAR.days, "D")
    in_year = dates > year_ago
    before = np.flatnonzero(dates <= year_ago)
    return_1y = None
    if before.size:
        base_close = float(bars.close[before[-1]])
        return_1y = float(bars.close[-1]) / base_close - 1.0 if base_close else None
    return InstrumentStats(
        first=dates[0].astype(date),
        last=last_day.astype(date),
        rows=len(bars),
        gaps=coverage.gaps if coverage else None,
        last_close=float(bars.close[-1]),
        high_52w=float(np.max(bars.high[in_year])),
        low_52w=float(np.min(bars.low[in_year])),
        return_1y=return_1y,
    )
