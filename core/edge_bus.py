"""The edge cache's forgets (core.edge), carried between server processes over Redis pub/sub.

Every server process publishes each ``forget_user`` / ``forget_tag`` on one channel and listens to
it from a daemon thread, which forgets locally what another process forgot. A hit in the edge cache
stays a dictionary look-up: no Redis round trip per request. The listener's state is what makes
that safe: while it is not subscribed (starting, or Redis lost), :meth:`Bus.hears_forgets` is false,
the edge answers nothing from its tables, and everything kept is dropped on (re)subscribing,
since a forget may have been missed meanwhile. A connection that dies silently is noticed by a
ping every few seconds whose answer must come back.

Without ``REDIS_URL`` (embedded mode, one server process) there is nothing to carry.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings

logger = logging.getLogger(__name__)

SUBSCRIBE_WAIT_SECONDS = 3.0  # how long a starting process waits for its subscription
PING_EVERY_SECONDS = 5.0
SILENCE_LIMIT_SECONDS = 15.0  # no answer to pings for this long: the connection is taken as lost


class Bus:
    def __init__(self, *, on_forget: Callable[[str, int | str], None], on_reset: Callable[[], None]) -> None:
        self._on_forget = on_forget
        self._on_reset = on_reset
        self._subscribed = False
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._publisher = None
        self._publisher_url = ""
        self._channels: dict[str, str] = {}
        self._origin = uuid.uuid4().hex  # this process's own messages: already forgotten here

    @staticmethod
    def url() -> str:
        return getattr(settings, "REDIS_URL", "") or ""

    def channel(self) -> str:
        url = self.url()
        if url not in self._channels:
            import redis

            db = redis.Redis.from_url(url).connection_pool.connection_kwargs.get("db", 0)
            self._channels[url] = f"edge.forget.{db}"  # pub/sub ignores the database number: keep them apart
        return self._channels[url]

    def hears_forgets(self) -> bool:
        """Whether every other process's forgets reach this one (always, without Redis)."""
        return self._subscribed or not self.url()

    def publish(self, kind: str, value: int | str) -> None:
        url = self.url()
        if not url:
            return
        import redis

        try:
            if self._publisher is None or self._publisher_url != url:
                self._publisher = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
                self._publisher_url = url
            self._publisher.publish(self.channel(), f"{self._origin}:{kind}:{value}")
        except redis.RedisError:
            # Other processes stop answering from their tables when they lose Redis too; one that
            # still hears it keeps this credential until EDGE_CACHE_SECONDS at most.
            logger.exception("edge cache: could not publish the forget of %s %s", kind, value)

    def listen(self) -> None:
        """Start this process's listener (once), and wait a moment for its subscription."""
        if not self.url():
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="edge-forget-listener", daemon=True)
                self._thread.start()
        self._ready.wait(SUBSCRIBE_WAIT_SECONDS)

    def stop(self) -> None:
        """Stop the listener (tests); the bus then stops hearing forgets."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                self._listen_once()
            except Exception as error:  # noqa: BLE001 - any failure means: reconnect, answer nothing meanwhile
                logger.warning("edge cache: lost the forget channel (%s); answering nothing from it until back",
                               error)  # fmt: skip
            finally:
                if self._subscribed:
                    delay = 0.5  # it was working: come back soon
                self._subscribed = False
                self._on_reset()
            self._stopping.wait(delay)
            delay = min(delay * 2, 10.0)

    def _listen_once(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url(), socket_connect_timeout=2, socket_timeout=SILENCE_LIMIT_SECONDS)
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.channel())
            last_heard = last_ping = time.monotonic()
            while not self._stopping.is_set():
                message = pubsub.get_message(timeout=1.0)
                now = time.monotonic()
                if message is not None:
                    last_heard = now
                    self._handle(message)
                if now - last_heard > SILENCE_LIMIT_SECONDS:
                    raise ConnectionError("no answer from Redis")
                if now - last_ping > PING_EVERY_SECONDS:
                    pubsub.ping()
                    last_ping = now
        finally:
            pubsub.close()
            client.close()

    def _handle(self, message: dict) -> None:
        if message["type"] == "subscribe":
            self._on_reset()  # kept while not subscribed: a forget may have been missed
            self._subscribed = True
            self._ready.set()
        elif message["type"] == "message":
            origin, kind, value = message["data"].decode().split(":", 2)
            if origin == self._origin:
                return
            if kind == "user":
                self._on_forget(kind, int(value))
            elif kind == "tag":
                self._on_forget(kind, value)
