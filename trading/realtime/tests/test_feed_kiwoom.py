"""Kiwoom's websocket: with only Kiwoom market-data keys the watched symbols stream as ``0B`` ticks
(again after a drop), the rest polled and delayed; a Kiwoom ``00`` fill notice reaches the ledger
once even when the polling lists the same fill."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from django.core.cache import caches

from core import clock
from marketdata.calendars import SEOUL
from trading.fakes.kiwoom import FakeKiwoom
from trading.fakes.kiwoom_ws import FakeKiwoomWs
from trading.models import BrokerAccount
from trading.orders import reconcile, services
from trading.orders.models import Fill
from trading.orders.tests.conftest import new_order
from trading.realtime import interest, notices
from trading.realtime.fanout import last_tick
from trading.realtime.feeds import price_feed

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
MARKET_KEY, MARKET_SECRET = "kiwoom-market-key", "kiwoom-market-secret"
KEY, SECRET, ACCOUNT = "kiwoom-alice-key", "kiwoom-alice-secret", "5012345611"


def wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@pytest.fixture
def kiwoom(settings, monkeypatch) -> Iterator[tuple[FakeKiwoom, FakeKiwoomWs]]:
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    clock.set_to(dt.datetime(2026, 3, 4, 10, 0, tzinfo=SEOUL))
    rest = FakeKiwoom(requests_per_second=40)
    rest.add_account(MARKET_KEY, MARKET_SECRET, "5099999911")
    rest.add_account(KEY, SECRET, ACCOUNT)
    for code, price in (("005930", 70_000), ("000660", 182_000)):
        rest.set_price(code, price, previous_close=price - 1_000)
    ws = FakeKiwoomWs(rest)
    rest.start(), ws.start()
    settings.BROKER_KIWOOM_REAL_URL = settings.MARKET_DATA_KIWOOM_BASE_URL = rest.url
    settings.BROKER_KIWOOM_REAL_WS_URL = ws.url
    settings.BROKER_KIWOOM_REAL_REQUESTS_PER_SECOND = 40
    settings.MARKET_DATA_KIS_APP_KEY = ""
    settings.MARKET_DATA_KIWOOM_APP_KEY, settings.MARKET_DATA_KIWOOM_APP_SECRET = MARKET_KEY, MARKET_SECRET
    settings.REALTIME_KIWOOM_MAX_REGISTRATIONS, settings.REALTIME_INTEREST_SECONDS = 1, 0.05
    settings.REALTIME_RECONNECT_SECONDS, settings.REALTIME_POLL_SECONDS = 0.05, 0.2
    settings.REALTIME_POLL_PER_SECOND = 20
    caches["brokers"].clear()
    try:
        yield rest, ws
    finally:
        ws.stop(), rest.stop()
        clock.reset()
        caches["brokers"].clear()


@pytest.fixture
def running() -> Iterator[Callable]:
    stop = threading.Event()
    threads = []

    def start(target):
        threads.append(threading.Thread(target=target, args=(stop,), daemon=True))
        threads[-1].start()

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=5)


def test_kiwoom_ticks_stream_the_newest_interest_again_after_a_drop_and_the_rest_is_polled(
        kiwoom, running, monkeypatch):
    rest, ws = kiwoom
    touches = iter(range(1, 100))
    monkeypatch.setattr(interest, "_now", lambda: float(next(touches)))
    interest.interest_touch("000660")
    interest.interest_touch("005930")  # the newest: the one registration
    feed = price_feed()
    running(feed.run)

    wait_for(lambda: ws.registrations() == {("0B", "005930")})
    wait_for(lambda: last_tick("000660") is not None)
    assert (last_tick("000660").price, last_tick("000660").delayed, last_tick("000660").source) == (
        D(182_000), True, "kiwoom")
    ws.ping()
    wait_for(lambda: ws.pongs == 1)
    ws.drop_all()
    wait_for(lambda: feed.stream.sessions == 2 and feed.stream.active)
    ws.push_tick("005930", 70_500, 7, change=-500)
    wait_for(lambda: last_tick("005930") is not None and last_tick("005930").price == 70_500)
    tick = last_tick("005930")
    assert (tick.volume, tick.change, tick.delayed) == (D(7), D(-500), False)


def test_a_kiwoom_fill_notice_is_booked_at_once_and_the_polling_of_the_same_fill_adds_nothing(
        kiwoom, running, user, monkeypatch):
    rest, ws = kiwoom
    account = BrokerAccount(owner=user, broker="kiwoom", environment="real", account_no=ACCOUNT, nickname="키움",
                            status="verified")
    account.set_keys(app_key=KEY, app_secret=SECRET)
    account.save()
    monkeypatch.setattr(services, "enqueue_submit", lambda order_id: None)
    monkeypatch.setattr(services, "enqueue_reconcile", lambda account_id: None)
    handled = []
    handle = notices.notice_handle
    monkeypatch.setattr(notices, "notice_handle", lambda **kw: handled.append(handle(**kw)))
    running(notices.NoticeListeners(accounts_seconds=0.1, reread_seconds=0.05).run)
    wait_for(lambda: ("00", "") in ws.registrations())
    order = services.order_submit(order_id=new_order(account, quantity=5).pk)

    rest.fill(order.broker_order_no, 2, 70_000)
    ws.push_fill_notice(ACCOUNT, order.broker_order_no, 2, 70_000, order_qty=5)
    wait_for(lambda: handled)
    reconcile.account_reconcile(account=account)

    order.refresh_from_db()
    assert list(Fill.objects.filter(order=order).values_list("quantity", "price", "source")) == [
        (D(2), D(70_000), "notice")]
    assert (order.state, order.filled_quantity) == ("partially_filled", D(2))
