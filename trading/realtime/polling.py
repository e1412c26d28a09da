"""Prices that are not streamed: polled one symbol at a time and published as delayed (지연).

A symbol is polled when no websocket registration carries it: beyond the session's registrations,
refused, or while the session is down; and every symbol on a platform without market-data keys (the
paper broker's prices: the newest bar or quote ``trading.paper.prices.latest_price`` has). The poller
keeps its own slow pace (``per_second``), far under the app key's request budget, which every
request still goes through (the market-data client's shared budget), so polling never crowds out
orders.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal

from . import Tick

logger = logging.getLogger("trading.realtime")

QuoteTick = Callable[[str], Tick | None]
REPUBLISH_SECONDS = 60.0  # an unchanged price is published again this often (late joiners, caches)


def _change(price: Decimal, previous: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    if not previous:
        return None, None
    change = price - previous
    return change, (change / previous * 100).quantize(Decimal("0.01"))


def quote_tick(quote: Callable[[str], object], *, source: str) -> QuoteTick:
    """A ``Tick`` source from a broker's current price: ``quote(symbol)`` is the market-data KIS
    provider's ``quote`` (``inquire-price``) or a broker client's (Kiwoom ``ka10001``)."""
    from core import clock
    from marketdata.providers.base import ProviderError
    from trading.brokers.base import BrokerError

    def tick(symbol: str) -> Tick | None:
        try:
            got = quote(symbol)
        except ProviderError as exc:
            logger.info("no polled price for %s: %s", symbol, exc.reason)
            return None
        except BrokerError as exc:
            logger.info("no polled price for %s: %s (%s)", symbol, exc.message, exc.code)
            return None
        change, rate = _change(got.price, got.previous_close)
        return Tick(symbol=symbol, price=got.price, at=clock.now(), volume=None, change=change, change_rate=rate,
                    source=source, delayed=True)

    return tick


def kis_quote_tick(provider) -> QuoteTick:
    """The market-data KIS provider's current price as a delayed ``Tick``."""
    return quote_tick(provider.quote, source="kis")


def paper_quote_tick(symbol: str) -> Tick | None:
    """The paper broker's newest price of ``symbol`` as a delayed ``Tick`` (None: no price at all)."""
    from core import clock
    from trading.paper.prices import latest_price

    point = latest_price(symbol, now=clock.now())
    if point is None:
        return None
    change, rate = _change(point.price, point.previous_close)
    return Tick(symbol=symbol, price=point.price, at=point.at, volume=point.volume, change=change, change_rate=rate,
                source="paper", delayed=True)


class QuotePoller:
    """Polls each symbol at most every ``every`` seconds, ``per_second`` requests at most, and
    publishes a tick when the price or its time changed (or ``REPUBLISH_SECONDS`` passed)."""

    def __init__(self, *, source: QuoteTick, publish: Callable[[Tick], None], every: float = 5.0,
                 per_second: float = 2.0) -> None:
        self.source = source
        self.publish = publish
        self.every = every
        self.per_second = max(per_second, 0.01)
        self._polled: dict[str, float] = {}
        self._published: dict[str, tuple[Decimal, object, float]] = {}

    def poll(self, symbols: Iterable[str], stop: threading.Event, *, limit: int | None = None) -> int:
        """Poll the ``symbols`` that are due (in order: newest interest first), at most ``limit`` of
        them (the caller then asks again with a fresh list: a symbol streamed meanwhile drops out);
        the number polled."""
        polled = 0
        for symbol in symbols:
            if stop.is_set() or (limit is not None and polled >= limit):
                break
            now = time.monotonic()
            if now - self._polled.get(symbol, -1e9) < self.every:
                continue
            self._polled[symbol] = now
            polled += 1
            try:
                tick = self.source(symbol)
            except Exception:  # noqa: BLE001 - one symbol's failure must not stop the others
                logger.exception("polling the price of %s failed", symbol)
                tick = None
            if tick is not None and self._changed(tick):
                self.publish(tick)
            stop.wait(1.0 / self.per_second)
        return polled

    def _changed(self, tick: Tick) -> bool:
        last = self._published.get(tick.symbol)
        now = time.monotonic()
        if last is not None and last[:2] == (tick.price, tick.at) and now - last[2] < REPUBLISH_SECONDS:
            return False
        self._published[tick.symbol] = (tick.price, tick.at, now)
        return True

    def forget(self, keep: Iterable[str]) -> None:
        """Drop what is known of symbols no longer polled (a symbol polled again starts fresh)."""
        keep = set(keep)
        for known in (self._polled, self._published):
            for symbol in [s for s in known if s not in keep]:
                del known[symbol]


__all__ = ["QuotePoller", "kis_quote_tick", "paper_quote_tick", "quote_tick"]
