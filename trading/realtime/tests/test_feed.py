"""The price feed: KIS ticks parsed and published, one session kept alive across drops, the symbols
beyond its registrations polled and marked delayed, the paper broker's prices without keys, and no
key, secret or approval key in the logs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from django.core.cache import caches

from core import clock
from marketdata.calendars import SEOUL
from marketdata.store import BarStore
from marketdata.tests.factories import InstrumentFactory
from trading.fakes.kis import FakeKis
from trading.fakes.kis_ws import FakeKisWs
from trading.realtime import interest
from trading.realtime.fanout import last_tick
from trading.realtime.feeds import PriceFeed, price_feed
from trading.realtime.kis_ws import TR_TICKS, Backoff, KisStream, parse_frame, records, tick_from_fields
from trading.realtime.polling import QuotePoller

D = Decimal
MARKET_KEY = "PSmarket0key" + "m" * 24
MARKET_SECRET = "market-secret-" + "s" * 166


def wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def watch(*symbols: str, monkeypatch) -> None:
    """Browsers watch ``symbols``, the last one most recently."""
    clock = iter(range(1, 1000))
    monkeypatch.setattr(interest, "_now", lambda: float(next(clock)))
    for symbol in symbols:
        interest.interest_touch(symbol)


@pytest.fixture
def running() -> Iterator[Callable]:
    """``running(target)``: run ``target(stop)`` in a thread until the test ends."""
    stop = threading.Event()
    threads = []

    def start(target):
        thread = threading.Thread(target=target, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def test_a_kis_trade_print_becomes_a_tick_with_the_signed_change():
    fields = ["0"] * 46
    fields[0], fields[1], fields[2], fields[3], fields[4], fields[5] = "005930", "093015", "70100", "5", "900", "1.27"
    fields[12], fields[33] = "37", "20260304"
    frame = parse_frame("0|H0STCNT0|002|" + "^".join(fields + fields))

    ticks = [tick_from_fields(f, today=dt.date(2026, 1, 1)) for f in records(frame.payload, frame.count, 46)]

    assert len(ticks) == 2 and not frame.encrypted
    tick = ticks[0]
    assert (tick.symbol, tick.price, tick.volume, tick.change, tick.change_rate) == ("005930", D(70100), D(37), D(-900),
                                                                                       D("-1.27"))
    assert tick.at.isoformat() == "2026-03-04T09:30:15+09:00" and not tick.delayed


def test_the_session_registers_again_after_a_drop_and_answers_the_heartbeat(running):
    fake = FakeKisWs().start()
    got = []
    stream = KisStream(url=fake.url, approval=lambda: "approval", wanted=lambda: [(TR_TICKS, "005930")],
                       on_data=lambda tr_id, fields: got.append(fields[2]), reread_seconds=0.05,
                       backoff=Backoff(0.05, 0.2))
    try:
        running(stream.run)
        wait_for(lambda: stream.active)
        fake.ping()
        wait_for(lambda: fake.pongs == 1)  # the heartbeat answered
        fake.drop_all()
        wait_for(lambda: stream.sessions == 2 and stream.active)
        assert fake.registrations() == {(TR_TICKS, "005930")}
        fake.push_tick("005930", 70_200)
        wait_for(lambda: got)
        assert got == ["70200"]
    finally:
        fake.stop()


def test_registrations_past_the_sessions_limit_are_polled_and_marked_delayed(running):
    """The fake refuses the 42nd registration as KIS does; a second session of the key is refused."""
    fake = FakeKisWs().start()
    symbols = [f"{n:06d}" for n in range(1, 46)]
    published = []
    polled = QuotePoller(source=lambda s: None, publish=published.append)
    feed = PriceFeed(poller=polled, interest=lambda: symbols, publish=published.append, interest_seconds=0.05,
                     stream_factory=lambda f: KisStream(url=fake.url, approval=lambda: "approval", wanted=f.wanted,
                                                        on_data=f.on_data, max_registrations=45, reread_seconds=0.05))
    second = KisStream(url=fake.url, approval=lambda: "approval", wanted=lambda: [(TR_TICKS, "999999")],
                       on_data=lambda *a: None, reread_seconds=0.05, backoff=Backoff(0.05, 0.1))
    try:
        running(feed.stream.run)
        wait_for(lambda: len(feed.stream.active) == 41 and len(feed.stream.refused) == 4)
        assert feed.delayed_symbols() == symbols[41:]
        running(second.run)
        wait_for(lambda: second.sessions >= 2)  # refused (OPSP8996), it tried again
        assert not second.active and (TR_TICKS, "999999") not in fake.registrations()
    finally:
        fake.stop()


@pytest.fixture
def market_kis(settings) -> Iterator[tuple[FakeKis, FakeKisWs]]:
    """A fake KIS (REST and websocket) serving the platform's market-data key; fast reconnects."""
    rest = FakeKis()
    rest.add_account(MARKET_KEY, MARKET_SECRET, "59999999-01", environment="real")
    for code, price in (("005930", 70_000), ("000660", 182_000), ("035720", 41_250)):
        rest.set_price(code, price, prev_close=price - 1_000)
    ws = FakeKisWs(rest)
    rest.start(), ws.start()
    settings.MARKET_DATA_KIS_BASE_URL, settings.BROKER_KIS_REAL_WS_URL = rest.url, ws.url
    settings.MARKET_DATA_KIS_APP_KEY, settings.MARKET_DATA_KIS_APP_SECRET = MARKET_KEY, MARKET_SECRET
    settings.REALTIME_KIS_MAX_REGISTRATIONS, settings.REALTIME_INTEREST_SECONDS = 2, 0.05
    settings.REALTIME_RECONNECT_SECONDS, settings.REALTIME_POLL_SECONDS = 0.05, 0.2
    settings.REALTIME_POLL_PER_SECOND = 20
    caches["brokers"].clear()
    try:
        yield rest, ws
    finally:
        ws.stop(), rest.stop()
        caches["brokers"].clear()


@pytest.mark.django_db(transaction=True)
def test_the_market_data_feed_streams_the_newest_interest_polls_the_rest_and_survives_a_drop(
        market_kis, running, monkeypatch, caplog):
    rest, ws = market_kis
    caplog.set_level(logging.DEBUG)
    # 005930 the newest stock, 035720 the oldest; KRW-BTC (crypto: the paper broker's prices only) takes no registration
    watch("035720", "000660", "005930", "KRW-BTC", monkeypatch=monkeypatch)
    feed = price_feed()
    running(feed.run)

    wait_for(lambda: ws.registrations(MARKET_KEY) == {(TR_TICKS, "005930"), (TR_TICKS, "000660")})
    wait_for(lambda: last_tick("035720") is not None)
    polled = last_tick("035720")
    assert (polled.price, polled.change, polled.delayed) == (D(41_250), D(1_000), True)  # shown as 지연

    ws.push_tick("005930", 70_300, 12, change=1_300)
    wait_for(lambda: last_tick("005930") is not None and last_tick("005930").price == 70_300)
    assert last_tick("005930").delayed is False and last_tick("005930").volume == 12

    ws.drop_all()
    wait_for(lambda: feed.stream.sessions == 2 and len(feed.stream.active) == 2)
    ws.push_tick("000660", 183_000, 3)
    wait_for(lambda: last_tick("000660") is not None and last_tick("000660").price == 183_000
             and not last_tick("000660").delayed)
    assert ws.approvals_issued == 1  # the approval key is kept across reconnects

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (MARKET_KEY, MARKET_SECRET, *ws.approvals):
        assert secret not in logged


@pytest.fixture
def samsung(db, settings):
    """005930 on KOSPI in the bar store: 70,000 on Monday 2026-03-02, 71,300 on Tuesday."""
    store = BarStore(settings.MARKET_DATA_ROOT)
    for day, close in (("2026-03-02", 70_000), ("2026-03-03", 71_300)):
        store.write("005930", "KOSPI", date=[day], open=[close], high=[close], low=[close], close=[close],
                    volume=[1_000_000])
    return InstrumentFactory(code="005930", name="삼성전자")


@pytest.mark.django_db
def test_without_market_data_keys_the_paper_brokers_prices_are_published_delayed(settings, samsung, monkeypatch):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    clock.set_to(dt.datetime(2026, 3, 3, 15, 0, tzinfo=SEOUL))  # the day of the last bar, 70,000 the day before
    watch("005930", monkeypatch=monkeypatch)
    feed = price_feed()
    assert feed.stream is None

    feed.poller.poll(feed.delayed_symbols(), threading.Event())

    clock.reset()
    tick = last_tick("005930")
    assert (tick.price, tick.change, tick.source, tick.delayed) == (D(71_300), D(1_300), "paper", True)


def test_embedded_mode_runs_the_feeds_while_the_server_serves_and_stops_them_with_it(settings, monkeypatch):
    from daphne.cli import CommandLineInterface
    from django.core.management import call_command

    import core.embedded
    from trading.realtime import feeds

    settings.CELERY_EMBEDDED = True
    monkeypatch.setattr(core.embedded, "start_embedded_celery", lambda app, **kwargs: None)
    started: list[threading.Event] = []
    monkeypatch.setattr(feeds, "feeds_start", lambda stop: started.append(stop) or [])
    monkeypatch.setattr(CommandLineInterface, "run", lambda self, argv: wait_for(lambda: started))

    call_command("serve", "--port", "8123")

    assert len(started) == 1 and started[0].is_set()  # running while daphne served, stopped after


def test_run_feeds_starts_the_price_feed_and_the_notice_listeners_until_they_end(monkeypatch, capsys):
    from django.core.management import call_command

    import trading.management.commands.run_feeds as run_feeds

    asked = []

    def start(stop, *, prices, notices):
        asked.append((prices, notices))
        thread = threading.Thread(target=lambda: None, name="feed-prices")
        thread.start()
        return [thread]

    monkeypatch.setattr(run_feeds, "feeds_start", start)

    call_command("run_feeds", "--no-notices")

    assert asked == [(True, False)]
    assert "Feeds running: feed-prices" in capsys.readouterr().out
