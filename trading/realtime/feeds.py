"""The long-running price feeds and notice listeners (``manage.py run_feeds``; a thread in embedded mode).

One upstream session per app key: the platform's market-data keys (``MARKET_DATA_KIS_APP_KEY`` /
``_SECRET``) stream ``H0STCNT0`` for what browsers watch (``interest.interest_symbols``, newest
interest first, read again every ``REALTIME_INTEREST_SECONDS``): the first
``REALTIME_KIS_MAX_REGISTRATIONS`` are registered, new ones added and dropped ones released; every
tick goes to ``fanout.publish_tick`` once. What the session does not carry (beyond the cap, refused,
or while it reconnects) is polled and published as delayed (``polling.py``). Without KIS keys,
Kiwoom's market-data keys (``MARKET_DATA_KIWOOM_*``) stream ``0B`` ticks the same way; without
any, the paper broker's prices are replayed, delayed. Only KRX stock codes go to a broker; other
symbols (crypto pairs) always have the paper broker's prices, polled. Users' own keys serve only their execution
notices (``notices.py``).

Settings: ``REALTIME_KIS_MAX_REGISTRATIONS`` (40), ``REALTIME_KIWOOM_MAX_REGISTRATIONS`` (95,
unconfirmed at Kiwoom), ``REALTIME_INTEREST_SECONDS`` (3), ``REALTIME_POLL_SECONDS`` (5: each
delayed symbol at most this often), ``REALTIME_POLL_PER_SECOND`` (2: the poller's pace, under the
key's request budget), ``REALTIME_RECONNECT_SECONDS`` / ``REALTIME_RECONNECT_MAX_SECONDS`` (1 / 60:
the back-off), ``REALTIME_FEEDS_EMBEDDED`` (True: embedded mode runs them in the web process), and
the websocket hosts ``BROKER_KIS_REAL_WS_URL`` / ``BROKER_KIS_MOCK_WS_URL`` and
``BROKER_KIWOOM_*_WS_URL``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from . import Tick
from .kis_ws import TR_TICKS, Backoff, KisStream, Registration, issue_approval_key, tick_from_fields
from .kiwoom_ws import TYPE_TICKS, KiwoomStream, tick_from_values
from .polling import QuotePoller, kis_quote_tick, paper_quote_tick, quote_tick

logger = logging.getLogger("trading.realtime")

DEFAULTS: dict[str, Any] = {
    "REALTIME_KIS_MAX_REGISTRATIONS": 40,
    "REALTIME_KIWOOM_MAX_REGISTRATIONS": 95,
    "REALTIME_INTEREST_SECONDS": 3.0,
    "REALTIME_POLL_SECONDS": 5.0,
    "REALTIME_POLL_PER_SECOND": 2.0,
    "REALTIME_RECONNECT_SECONDS": 1.0,
    "REALTIME_RECONNECT_MAX_SECONDS": 60.0,
    "REALTIME_FEEDS_EMBEDDED": True,
    "REALTIME_NOTICE_ACCOUNTS_SECONDS": 30.0,
}


def setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def backoff() -> Backoff:
    return Backoff(float(setting("REALTIME_RECONNECT_SECONDS")), float(setting("REALTIME_RECONNECT_MAX_SECONDS")))


def ws_url(environment: str, broker: str = "kis") -> str:
    return getattr(settings, f"BROKER_{broker.upper()}_{environment.upper()}_WS_URL")


def _interest() -> list[str]:
    from .interest import interest_symbols

    return interest_symbols()


def _publish(tick: Tick) -> None:
    from .fanout import publish_tick

    publish_tick(tick)


def is_krx_stock(symbol: str) -> bool:
    """A KRX short code (``005930``, ``0088M0``): what the brokers' websockets and quotes carry.
    Anything else (``KRW-BTC``) has only the paper broker's prices."""
    return len(symbol) == 6 and symbol.isalnum()


def _krx_or_paper(broker_tick: Callable[[str], Tick | None]) -> Callable[[str], Tick | None]:
    return lambda symbol: broker_tick(symbol) if is_krx_stock(symbol) else paper_quote_tick(symbol)


def _today():
    from core import clock
    from marketdata.calendars import SEOUL

    return clock.now().astimezone(SEOUL).date()


class PriceFeed:
    """Ticks of the watched symbols: streamed by ``stream`` where it carries them, else polled.

    ``interest()`` lists the watched symbols; ``publish(tick)`` sends one tick. ``stream`` is a
    ``KisStream`` or ``KiwoomStream`` made by ``stream_factory(feed)`` (None: everything is polled,
    e.g. the paper broker's replay); its registrations are ``(tick_kind, symbol)`` and ``parse``
    turns one of its records into a ``Tick`` (default: KIS ``H0STCNT0``).
    """

    def __init__(self, *, poller: QuotePoller, interest: Callable[[], list[str]] = _interest,
                 publish: Callable[[Tick], None] = _publish,
                 stream_factory: Callable[[PriceFeed], KisStream | KiwoomStream] | None = None,
                 tick_kind: str = TR_TICKS, parse: Callable[[Any], Tick | None] | None = None,
                 interest_seconds: float = 3.0, idle_seconds: float = 1.0) -> None:
        self.tick_kind = tick_kind
        self.parse = parse or (lambda fields: tick_from_fields(fields, today=_today()))
        self.interest = interest
        self.publish = publish
        self.poller = poller
        poller.publish = publish
        self.interest_seconds = interest_seconds
        self.idle_seconds = idle_seconds
        self._symbols: list[str] = []
        self._read_at = -1e9
        self.stream = stream_factory(self) if stream_factory is not None else None

    def symbols(self) -> list[str]:
        """The watched symbols, read at most every ``interest_seconds`` (the last list if the read fails)."""
        if time.monotonic() - self._read_at >= self.interest_seconds:
            try:
                self._symbols = list(self.interest())
            except Exception:  # noqa: BLE001 - the cache may be down for a moment
                logger.warning("the watched symbols could not be read; keeping the last list", exc_info=True)
            self._read_at = time.monotonic()
        return self._symbols

    # -- the stream's side -----------------------------------------------------------------------
    def wanted(self) -> list[Registration]:
        self._read_at = -1e9  # the stream asks every few seconds: read the newest list
        return [(self.tick_kind, symbol) for symbol in self.symbols() if is_krx_stock(symbol)]

    def on_data(self, kind: str, record: Any) -> None:
        if kind != self.tick_kind:
            return
        tick = self.parse(record)
        if tick is not None:
            self.publish(tick)

    # -- the poller's side -----------------------------------------------------------------------
    def delayed_symbols(self) -> list[str]:
        """The watched symbols the stream does not carry now (newest interest first): not
        registered, refused, or while the session is down (a registration just asked counts as
        carried for a few seconds: its answer is on the way)."""
        carried = {key for kind, key in self.stream.carried() if kind == self.tick_kind} if self.stream else set()
        return [symbol for symbol in self.symbols() if symbol not in carried]

    def run(self, stop: threading.Event) -> None:
        """Stream (in a thread of its own) and poll until ``stop`` is set."""
        thread = None
        if self.stream is not None:
            thread = threading.Thread(target=self.stream.run, args=(stop,), name="feed-price-stream", daemon=True)
            thread.start()
        while not stop.is_set():
            delayed = self.delayed_symbols()
            try:
                # about a second of polls at a time, then a fresh list
                polled = self.poller.poll(delayed, stop, limit=max(1, int(self.poller.per_second)))
                self.poller.forget(delayed)
            except Exception:  # noqa: BLE001 - the poller must keep going
                logger.exception("the price poller failed; trying again")
                polled = 0
            if not polled:
                stop.wait(self.idle_seconds)
        if thread is not None:
            thread.join(timeout=5)


def price_feed() -> PriceFeed:
    """The platform's price feed from the settings: KIS market-data keys stream and poll; none:
    the paper broker's prices, polled."""
    every, pace = float(setting("REALTIME_POLL_SECONDS")), float(setting("REALTIME_POLL_PER_SECOND"))
    interest_seconds = float(setting("REALTIME_INTEREST_SECONDS"))
    if not (settings.MARKET_DATA_KIS_APP_KEY and settings.MARKET_DATA_KIS_APP_SECRET):
        if settings.MARKET_DATA_KIWOOM_APP_KEY and settings.MARKET_DATA_KIWOOM_APP_SECRET:
            return kiwoom_price_feed()
        logger.info("price feed: no market-data keys; the paper broker's prices, polled and marked delayed")
        return PriceFeed(poller=QuotePoller(source=paper_quote_tick, publish=_publish, every=every,
                                            per_second=max(pace, 10.0)),
                         interest_seconds=interest_seconds)
    from marketdata.providers.chain import get_provider

    provider = get_provider("kis")
    client = provider.client

    def stream(feed: PriceFeed) -> KisStream:
        return KisStream(url=ws_url(client.environment), approval=lambda: issue_approval_key(client),
                         wanted=feed.wanted, on_data=feed.on_data, name="prices",
                         max_registrations=int(setting("REALTIME_KIS_MAX_REGISTRATIONS")),
                         reread_seconds=interest_seconds, backoff=backoff())

    logger.info("price feed: KIS websocket (%s) for up to %s symbols, the rest polled", client.environment,
                setting("REALTIME_KIS_MAX_REGISTRATIONS"))
    return PriceFeed(poller=QuotePoller(source=_krx_or_paper(kis_quote_tick(provider)), publish=_publish, every=every,
                                         per_second=pace),
                     stream_factory=stream, interest_seconds=interest_seconds)


def kiwoom_price_feed() -> PriceFeed:
    """The price feed on the platform's Kiwoom market-data keys (``0B`` ticks, ``ka10001`` polls)."""
    from marketdata.providers.chain import get_provider

    client = get_provider("kiwoom").client
    interest_seconds = float(setting("REALTIME_INTEREST_SECONDS"))

    def stream(feed: PriceFeed) -> KiwoomStream:
        return KiwoomStream(url=ws_url(client.environment, "kiwoom"), token=client._token,
                            drop_token=lambda token: client.tokens.drop(client.token_key, token),
                            wanted=feed.wanted, on_data=feed.on_data, name="prices",
                            max_registrations=int(setting("REALTIME_KIWOOM_MAX_REGISTRATIONS")),
                            reread_seconds=interest_seconds, backoff=backoff())

    logger.info("price feed: Kiwoom websocket (%s), the rest polled", client.environment)
    poller = QuotePoller(source=_krx_or_paper(quote_tick(client.quote, source="kiwoom")), publish=_publish,
                         every=float(setting("REALTIME_POLL_SECONDS")),
                         per_second=float(setting("REALTIME_POLL_PER_SECOND")))
    return PriceFeed(poller=poller, stream_factory=stream, tick_kind=TYPE_TICKS, interest_seconds=interest_seconds,
                     parse=lambda record: tick_from_values(str(record.get("item", "")), record.get("values") or {},
                                                           today=_today()))


# -- the process ------------------------------------------------------------------------------
def _guarded(name: str, target: Callable[[threading.Event], None], stop: threading.Event) -> None:
    """Run ``target`` until ``stop``; a crash is logged and the target started again after a pause."""
    from django.db import close_old_connections

    pause = backoff()
    while not stop.is_set():
        try:
            target(stop)
        except Exception:  # noqa: BLE001 - a feed must outlive its bugs
            logger.exception("%s crashed; starting it again", name)
        finally:
            close_old_connections()
        if not stop.is_set():
            stop.wait(pause.next())


def feeds_start(stop: threading.Event, *, prices: bool = True, notices: bool = True) -> list[threading.Thread]:
    """Start the price feed and the notice listeners as daemon threads running until ``stop``."""
    threads = []
    if prices:
        threads.append(threading.Thread(target=_guarded, args=("the price feed", lambda s: price_feed().run(s), stop),
                                        name="feed-prices", daemon=True))
    if notices:
        from .notices import NoticeListeners

        threads.append(threading.Thread(target=_guarded, args=("the notice listeners",
                                                               lambda s: NoticeListeners().run(s), stop),
                                        name="feed-notices", daemon=True))
    for thread in threads:
        thread.start()
    return threads


class EmbeddedFeeds:
    """The feeds as threads of the web process (embedded mode); ``stop()`` ends them."""

    def __init__(self, *, delay: float = 1.0) -> None:
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self._starter = threading.Thread(target=self._start, args=(delay,), name="feeds-start", daemon=True)
        self._starter.start()

    def _start(self, delay: float) -> None:
        # the web server comes up first; a server stopped meanwhile never starts them
        if not self.stop_event.wait(delay):
            self.threads = feeds_start(self.stop_event)

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self._starter.join(timeout)
        for thread in self.threads:
            thread.join(timeout)


def embedded_feeds_start() -> EmbeddedFeeds | None:
    """Start the feeds in this process unless ``REALTIME_FEEDS_EMBEDDED`` is off."""
    if not setting("REALTIME_FEEDS_EMBEDDED"):
        return None
    return EmbeddedFeeds()


__all__ = ["EmbeddedFeeds", "PriceFeed", "embedded_feeds_start", "feeds_start", "kiwoom_price_feed", "price_feed"]
