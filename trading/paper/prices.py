"""What the paper broker knows about a symbol: its trading rules (the instrument master) and the
newest price the platform has.

The newest price comes from a **quote source** when one is plugged in (a callable
``symbol -> trading.brokers.base.Quote | None``: set ``PAPER_QUOTE_SOURCE`` to its dotted path, or
call ``set_quote_source`` — meant for a broker quote once the platform has market-data keys, or the
realtime feed's last tick), else from the **bar store**: the close of the symbol's latest daily bar.

A price carries ``at``, the instant it stands for; a resting order only fills again against a
newer one. A quote stands for "now"; a daily bar for the *start* of its day, so that any live
price of that day (a quote, a tick given to ``paper_match``) counts as newer than the bar. A bar
of today rewritten during the day is therefore not seen as newer (the live prices are).

A replay (``trading.live.replay``) plugs in its own source for its context only
(``scoped_quote_source``: a ``ContextVar``, so the platform's other users keep theirs): the past
day's open at the open and its close at the close, never a bar of a later moment.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.module_loading import import_string

from marketdata.calendars import SEOUL
from marketdata.models import Instrument, ListingStatus
from marketdata.selectors import instrument_last_bars
from trading.brokers.base import Quote
from trading.brokers.paper import InstrumentRules, PaperRefused

logger = logging.getLogger("trading.paper")

QuoteSource = Callable[[str], Quote | None]
_source_override: list[QuoteSource | None] = [None]
_scoped_source: ContextVar[QuoteSource | None] = ContextVar("paper_scoped_quote_source", default=None)


@dataclass(frozen=True)
class PricePoint:
    """One price of ``symbol``: ``volume`` traded behind it (None: unknown, no partial-fill cap)
    and the previous day's close (the base of KRX's daily price limits) when known."""

    symbol: str
    price: Decimal
    at: dt.datetime
    volume: Decimal | None = None
    previous_close: Decimal | None = None
    source: str = "bars"


def set_quote_source(source: QuoteSource | None) -> None:
    """Plug in (or, with None, remove) the quote source in this process; it wins over the setting."""
    _source_override[0] = source


@contextmanager
def scoped_quote_source(source: QuoteSource) -> Iterator[None]:
    """Use ``source`` for this context only (this thread or task and what it calls): it wins over
    every other source until the block ends."""
    token = _scoped_source.set(source)
    try:
        yield
    finally:
        _scoped_source.reset(token)


def quote_source() -> QuoteSource | None:
    """The context's scoped source (a replay), else the plugged-in source, else
    ``PAPER_QUOTE_SOURCE``, else a KIS quote when the platform has market-data keys
    (``MARKET_DATA_KIS_APP_KEY``), else None (the bar store)."""
    scoped = _scoped_source.get()
    if scoped is not None:
        return scoped
    if _source_override[0] is not None:
        return _source_override[0]
    path = getattr(settings, "PAPER_QUOTE_SOURCE", "")
    if path:
        return import_string(path)
    if settings.MARKET_DATA_KIS_APP_KEY and settings.MARKET_DATA_KIS_APP_SECRET:
        return market_data_quote
    return None


QUOTE_SECONDS = 2.0  # one broker quote per symbol serves every order for this long


def market_data_quote(symbol: str) -> Quote | None:
    """The platform's own KIS quote of a KRX stock (market-data keys, their shared token and budget),
    kept ``QUOTE_SECONDS`` in the cache; None for crypto or when KIS cannot answer."""
    from django.core.cache import cache

    from marketdata.providers.base import ProviderError
    from marketdata.providers.chain import get_provider

    if not Instrument.objects.filter(code=symbol).exclude(market="CRYPTO").exists():
        return None
    key = f"paper:quote:{symbol}"
    quote = cache.get(key)
    if quote is None:
        try:
            quote = get_provider("kis").quote(symbol)
        except ProviderError as exc:
            logger.info("no KIS quote for %s: %s", symbol, exc.reason)
            return None
        cache.set(key, quote, QUOTE_SECONDS)
    return quote


def instrument_rules(symbol: str) -> InstrumentRules:
    """The rules of ``symbol`` from the instrument master; raises ``unknown_symbol``."""
    row = (Instrument.objects.filter(code=symbol)
           .values("market", "tick_regime", "lot_size", "min_order_value", "status").first())
    if row is None:
        raise PaperRefused("unknown_symbol", symbol=symbol)
    return InstrumentRules(symbol=symbol, market=row["market"], tick_regime=row["tick_regime"],
                           lot_size=Decimal(row["lot_size"]).normalize(),
                           min_order_value=Decimal(row["min_order_value"]),
                           halted=row["status"] == ListingStatus.SUSPENDED,
                           listed=row["status"] != ListingStatus.DELISTED)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value))).normalize()


def _from_quote(symbol: str, now: dt.datetime) -> PricePoint | None:
    source = quote_source()
    if source is None:
        return None
    try:
        quote = source(symbol)
    except Exception:  # a broken source must not stop paper trading: the bars stand in
        logger.warning("paper quote source failed for %s; using the bar store", symbol, exc_info=True)
        return None
    if quote is None or quote.price <= 0:
        return None
    return PricePoint(symbol, Decimal(quote.price), now, None, quote.previous_close or None, "quote")


def latest_price(symbol: str, *, now: dt.datetime) -> PricePoint | None:
    """The newest price of ``symbol`` at ``now`` (a quote, else the latest bar up to today), with
    the previous close before today's date; None when the platform has no price at all."""
    today = now.astimezone(SEOUL).date()
    quoted = _from_quote(symbol, now)
    if quoted is not None and quoted.previous_close is not None:
        return quoted
    bars = instrument_last_bars(code=symbol, end=today, count=2)
    if len(bars) == 0:
        return quoted
    days = bars.date.astype("datetime64[D]").astype(dt.date)
    before_today = [i for i in (len(days) - 1, len(days) - 2) if i >= 0 and days[i] < today]
    previous = _decimal(bars.close[before_today[0]]) if before_today else None
    if quoted is not None:
        return PricePoint(symbol, quoted.price, quoted.at, None, previous, "quote")
    last = len(days) - 1
    at = dt.datetime.combine(days[last], dt.time(0, 0), SEOUL)
    return PricePoint(symbol, _decimal(bars.close[last]), at, _decimal(bars.volume[last]), previous)
