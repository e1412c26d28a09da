"""A tick from an upstream feed to every browser that shows its symbol, on any web process.

The feeds (one per app key, ``trading.realtime.feeds``) call :func:`publish_tick` once per trade
print: one ``group_send`` to ``price_group(symbol)`` (the channel layer carries it to each web
process's ``PriceConsumer`` sockets), and the tick kept in the cache for :data:`LAST_TICK_SECONDS`
so a page opened a moment later shows the current price at once (and the paper broker can price
against it, checking ``Tick.at``).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache

from core import realtime
from trading.realtime import Tick, price_group, tick_message

logger = logging.getLogger(__name__)

# How long the last tick of a symbol stays the "current price" without a newer one.
LAST_TICK_SECONDS = 120


def _last_tick_key(symbol: str) -> str:
    return f"realtime:tick:{symbol}"


def publish_tick(tick: Tick) -> None:
    """Send ``tick`` to every viewer of its symbol and keep it as the symbol's last tick.

    Never raises for a lost channel layer or cache (a feed must keep running: the next tick is
    another chance); the failure is logged."""
    message = tick_message(tick)
    try:
        cache.set(_last_tick_key(tick.symbol), message, timeout=LAST_TICK_SECONDS)
    except Exception:  # a cache outage must not stop the broadcast
        logger.exception("could not keep the last tick of %s", tick.symbol)
    try:
        realtime.group_send(price_group(tick.symbol), message)
    except Exception:
        logger.exception("could not broadcast a tick of %s", tick.symbol)


def last_tick_message(symbol: str) -> dict[str, Any] | None:
    """The channel layer message of ``symbol``'s last tick (``tick_message``), or None."""
    return cache.get(_last_tick_key(symbol))


def last_tick(symbol: str) -> Tick | None:
    """``symbol``'s last tick, if one arrived within :data:`LAST_TICK_SECONDS`."""
    message = last_tick_message(symbol)
    if message is None:
        return None
    return tick_from_message(message)


def tick_from_message(message: dict[str, Any]) -> Tick | None:
    """The :class:`Tick` a ``tick_message`` carries (None for a malformed one)."""
    def number(value: Any) -> Decimal | None:
        return None if value is None else Decimal(value)

    try:
        return Tick(symbol=message["symbol"], price=Decimal(message["price"]), at=dt.datetime.fromisoformat(message["at"]),
                    volume=number(message.get("volume")), change=number(message.get("change")),
                    change_rate=number(message.get("change_rate")), source=message.get("source", ""),
                    delayed=bool(message.get("delayed")))  # fmt: skip
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None
