"""``/ws/realtime/<code>/``: one instrument's ticks, for signed-in users.

A socket joins its process's :mod:`~trading.realtime.hub`, whose one channel is in
``price_group(code)`` (every tick :func:`trading.realtime.fanout.publish_tick` sends reaches it,
from whichever process published), gets the last tick at once, then each tick as it comes:
``{symbol, price, at, change, change_rate, volume, source, delayed}`` (numbers as strings, ``at``
ISO 8601). The process counts its viewers per symbol (``interest``): the upstream
feeds subscribe to the symbols somebody watches, once, however many sockets show them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from core import realtime
from core.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from core.metrics import series as metrics
from trading.realtime import fanout, interest
from trading.realtime.hub import current_hub, hub_join, hub_leave, tick_payload

logger = logging.getLogger(__name__)

# What the route accepts as a code (marketdata.Instrument.code: 005930, 0001A0, Q520057, KRW-BTC);
# anything else is refused by the catch-all route before a consumer exists.
CODE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9-]{0,19}"

# Codes this process found in the database (instruments are never deleted while served).
_known_codes: set[str] = set()


@database_sync_to_async
def _instrument_exists(code: str) -> bool:
    if code in _known_codes:
        return True
    from marketdata.models import Instrument

    if Instrument.objects.filter(code=code).exists():
        _known_codes.add(code)
        return True
    return False


class PriceConsumer(AsyncJsonWebsocketConsumer):
    # No channel of its own: the process's hub receives each tick once for all its sockets. (An alias
    # CHANNEL_LAYERS does not name makes channels' get_channel_layer answer None: no channel, no receive.)
    channel_layer_alias = "prices-hub-only"
    symbol: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        code = self.scope["url_route"]["kwargs"]["code"]
        # Accept, then close with our code: a refusal during the handshake reaches the browser as
        # 1006, which looks like a server that is down and would be retried for ever.
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await _instrument_exists(code):
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        realtime.remember_server_loop()
        # Counted and subscribed before the socket opens: a tick published once the page sees it open
        # reaches it.
        self.symbol = code
        metrics.websocket_opened("prices")  # paired with disconnect's, which sees self.symbol
        await hub_join(code, self)
        await sync_to_async(interest.viewer_joined)(code)
        _keep_touching()
        await self.accept()
        last = await sync_to_async(fanout.last_tick_message)(code)
        if last is not None:
            await self.send_json(tick_payload(last))

    async def disconnect(self, code: int) -> None:
        if self.symbol is None:
            return
        symbol, self.symbol = self.symbol, None
        metrics.websocket_closed("prices")
        await hub_leave(symbol, self)
        await sync_to_async(interest.viewer_left)(symbol)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:  # junk from a client is ignored, not a server error
            return None

    async def receive_json(self, content: Any, **kwargs) -> None:
        # Server-to-client only; a ping keeps proxies from idling the socket out.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"event": "pong"})


# -- one toucher per process -------------------------------------------------------------------
_toucher: asyncio.Task | None = None


def _keep_touching() -> None:
    """Start this process's loop that touches its watched symbols (one per process, not per socket:
    1,000 sockets on a symbol cost one cache write every ``TOUCH_EVERY_SECONDS``)."""
    global _toucher
    loop = asyncio.get_running_loop()
    if _toucher is not None and not _toucher.done() and _toucher.get_loop() is loop:
        return
    _toucher = loop.create_task(_touch_while_watched())


async def _touch_while_watched() -> None:
    while True:
        await asyncio.sleep(interest.TOUCH_EVERY_SECONDS)
        if not interest.local_symbols():
            return
        try:
            await sync_to_async(interest.touch_local)()
            await current_hub().rejoin()
        except Exception:  # a cache hiccup: the next round tries again
            logger.warning("could not touch the watched symbols", exc_info=True)
