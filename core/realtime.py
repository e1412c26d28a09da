"""The live channel: push an event to one user's browser tabs and devices.

Every consumer of ``/ws/user/`` joins the group ``user.<id>``. Services never
call this module: they publish through ``core.events.publish`` (on commit), whose
websocket route sends here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

# The event loop daphne serves websockets on. With the in-memory layer, a push
# from another thread (the embedded Celery worker) must run on that loop.
_server_loop: asyncio.AbstractEventLoop | None = None


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def remember_server_loop() -> None:
    global _server_loop
    _server_loop = asyncio.get_running_loop()


def group_send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        logger.warning("No channel layer configured; dropped %s", message.get("event"))
        return
    loop = _server_loop
    if isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(timeout=5)
            return
    if isinstance(layer, InMemoryChannelLayer):
        async_to_sync(layer.group_send)(group, message)
        return
    # A shared layer (Redis): one long-lived loop per process sends every push, so its connection
    # is reused; ``async_to_sync`` per push would start a loop and a connection each time.
    asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _publisher_loop()).result(timeout=5)


_publisher: tuple[int, asyncio.AbstractEventLoop] | None = None
_publisher_lock = threading.Lock()


def _publisher_loop() -> asyncio.AbstractEventLoop:
    """This process's publishing loop, on a daemon thread (started again in a forked child)."""
    global _publisher
    current = _publisher
    if current is not None and current[0] == os.getpid() and current[1].is_running():
        return current[1]
    with _publisher_lock:
        current = _publisher
        if current is not None and current[0] == os.getpid() and current[1].is_running():
            return current[1]
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        threading.Thread(target=run, name="realtime-publisher", daemon=True).start()
        started.wait(timeout=5)
        _publisher = (os.getpid(), loop)
        return loop
