"""Realtime prices and execution notices (issue 16).

One upstream feed per app key (KIS websocket ``H0STCNT0``, Kiwoom ``0B``, the paper broker's
replayed quotes) publishes each tick once to the channel layer group ``price_group(code)``
(``fanout.publish_tick``); ``/ws/realtime/<code>/`` consumers (any number of browsers, any web
process) hear it through their process's hub (``hub``: one member of the group per process, which
hands each tick to its sockets). ``interest`` says which symbols browsers watch, for the feeds.
The message shape every side agrees on is ``tick_message``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Tick:
    """One trade print of ``symbol``: price, its time, the tick's volume, the day's change against
    the previous close, where it came from and whether it is delayed (polled, not streamed)."""

    symbol: str
    price: Decimal
    at: dt.datetime
    volume: Decimal | None = None
    change: Decimal | None = None
    change_rate: Decimal | None = None
    source: str = "kis"
    delayed: bool = False


def price_group(symbol: str) -> str:
    """The channel layer group of ``symbol``'s ticks (group names allow ``[a-zA-Z0-9._-]``)."""
    return f"prices.{symbol}"


def tick_message(tick: Tick) -> dict[str, Any]:
    """The channel layer message of a tick (``type`` routes it to the consumers' ``price_tick``)."""
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {"type": "price.tick", "symbol": tick.symbol, "price": str(tick.price), "at": tick.at.isoformat(),
            "volume": text(tick.volume), "change": text(tick.change), "change_rate": text(tick.change_rate),
            "source": tick.source, "delayed": tick.delayed}
