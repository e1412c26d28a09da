"""One channel layer subscription per web process, shared by all its sockets.

A tick sent to ``price_group(symbol)`` reaches each member channel through the channel layer
separately: with channels-redis that is a Redis pop (four round trips, one message at a time) per
member, so 1,000 sockets each in the group would take a second or more to hear one tick. Instead
each process's :class:`Hub` holds one channel in every group its sockets watch, receives a tick
once, encodes it once and hands the same text to each local socket of its symbol. Sockets join and
leave through :func:`hub_join` / :func:`hub_leave`; the hub runs while it has viewers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Protocol

from channels.layers import get_channel_layer

from trading.realtime import price_group

logger = logging.getLogger(__name__)

TICK_FIELDS = ("symbol", "price", "at", "change", "change_rate", "volume", "source", "delayed")


def tick_payload(message: dict[str, Any]) -> dict[str, Any]:
    """What a browser receives of a ``tick_message``."""
    return {name: message.get(name) for name in TICK_FIELDS}


class Viewer(Protocol):
    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None: ...


class Hub:
    """The sockets of one event loop (one server process), by symbol."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.lock = asyncio.Lock()
        self.viewers: dict[str, set[Viewer]] = {}
        self.channel: str | None = None
        self.task: asyncio.Task | None = None

    async def join(self, symbol: str, viewer: Viewer) -> None:
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel()
                self.task = self.loop.create_task(self._receive())
            viewers = self.viewers.setdefault(symbol, set())
            if not viewers:
                await self.layer.group_add(price_group(symbol), self.channel)
            viewers.add(viewer)

    async def leave(self, symbol: str, viewer: Viewer) -> None:
        async with self.lock:
            viewers = self.viewers.get(symbol)
            if viewers is None or viewer not in viewers:
                return
            viewers.discard(viewer)
            if viewers:
                return
            del self.viewers[symbol]
            await self.layer.group_discard(price_group(symbol), self.channel)
            if not self.viewers:
                await self._stop()

    async def rejoin(self) -> None:
        """Add the hub's channel to its groups again (a Redis that lost them, groups expiring)."""
        async with self.lock:
            for symbol in list(self.viewers):
                await self.layer.group_add(price_group(symbol), self.channel)

    async def _stop(self) -> None:
        task, self.task, self.channel = self.task, None, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=5)

    async def _receive(self) -> None:
        delay = 0.5
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception:  # the layer's Redis went away: keep trying, the ticks come back with it
                if asyncio.current_task().cancelling():  # a cancelled read may surface as another error
                    raise
                logger.warning("price hub: receive failed; retrying in %.1f s", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            if message.get("type") == "price.tick":
                await self.deliver(message)

    async def deliver(self, message: dict[str, Any]) -> None:
        viewers = self.viewers.get(message.get("symbol"))
        if not viewers:
            return
        text = json.dumps(tick_payload(message), ensure_ascii=False)
        for viewer in list(viewers):
            try:
                await viewer.send(text_data=text)
            except Exception:  # a socket closing under us; its disconnect takes it out
                logger.debug("price hub: a send failed", exc_info=True)


_hub: Hub | None = None


def current_hub() -> Hub:
    """This event loop's hub (a server process has one loop; tests start a loop per test)."""
    global _hub
    if _hub is None or _hub.loop is not asyncio.get_running_loop():
        _hub = Hub()
    return _hub


async def hub_join(symbol: str, viewer: Viewer) -> None:
    await current_hub().join(symbol, viewer)


async def hub_leave(symbol: str, viewer: Viewer) -> None:
    await current_hub().leave(symbol, viewer)
