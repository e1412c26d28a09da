"""Execution notices: a KIS fill notice (AES, keyed by the HTS ID) reaches the ledger at once, and a
fill reported by both the notice and the polling counts once, whichever comes first; receipts and
refusals ask for a reconciliation; notices of other accounts under the same HTS ID are ignored; the
logs hold no key, secret, account number or HTS ID."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.cache import caches

from core import clock
from marketdata.calendars import SEOUL
from trading.fakes.kis import FakeKis
from trading.fakes.kis_ws import FakeKisWs
from trading.models import BrokerAccount
from trading.orders import reconcile, services
from trading.orders.models import Fill
from trading.orders.tests.conftest import new_order
from trading.realtime import notices
from trading.realtime.kis_ws import TR_NOTICE_MOCK

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
KEY = "PSnotice0key" + "k" * 24
SECRET = "notice-secret-" + "s" * 166
ACCOUNT = "50123456-01"
ACCOUNT_DIGITS = "5012345601"
HTS = "alicehts7"
MORNING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=SEOUL)  # a Wednesday, continuous trading


def wait_for(condition: Callable[[], object], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@dataclass
class World:
    rest: FakeKis
    ws: FakeKisWs
    account: BrokerAccount
    handled: list
    reconciles: list


@pytest.fixture
def world(settings, user, monkeypatch) -> Iterator[World]:
    """alice's KIS mock account with an HTS ID on a fake KIS (REST and websocket), its notice
    listener running; ``handled`` lists what each notice did, ``reconciles`` the accounts asked for."""
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    clock.set_to(MORNING)
    rest = FakeKis(rate_limits={"mock": 50, "real": 50})
    rest.add_account(KEY, SECRET, ACCOUNT, hts_id=HTS, environment="mock", cash=5_000_000)
    rest.set_price("005930", 70_000, prev_close=69_000, name="삼성전자")
    rest.advance(MORNING.timestamp() - time.time())
    ws = FakeKisWs(rest)
    rest.start(), ws.start()
    settings.BROKER_KIS_MOCK_URL, settings.BROKER_KIS_MOCK_WS_URL = rest.url, ws.url
    settings.BROKER_KIS_MOCK_REQUESTS_PER_SECOND = 40
    settings.REALTIME_RECONNECT_SECONDS = 0.05
    caches["brokers"].clear()
    account = BrokerAccount(owner=user, broker="kis", environment="mock", account_no=ACCOUNT_DIGITS, hts_id=HTS,
                            nickname="KIS 모의", status="verified")
    account.set_keys(app_key=KEY, app_secret=SECRET)
    account.save()
    handled, reconciles = [], []
    monkeypatch.setattr(services, "enqueue_submit", lambda order_id: None)
    monkeypatch.setattr(services, "enqueue_reconcile", reconciles.append)
    handle = notices.notice_handle
    monkeypatch.setattr(notices, "notice_handle", lambda **kw: handled.append(handle(**kw)))
    stop = threading.Event()
    listeners = threading.Thread(target=notices.NoticeListeners(accounts_seconds=0.1, reread_seconds=0.05).run,
                                 args=(stop,), daemon=True)
    listeners.start()
    try:
        wait_for(lambda: ws.registrations(KEY) == {(TR_NOTICE_MOCK, HTS)})
        yield World(rest, ws, account, handled, reconciles)
    finally:
        stop.set()
        listeners.join(timeout=5)
        ws.stop(), rest.stop()
        clock.reset()
        caches["brokers"].clear()


def sent_order(world: World, quantity: int = 10):
    order = services.order_submit(order_id=new_order(world.account, quantity=quantity).pk)
    assert order.broker_order_no
    return order


def test_a_fill_notice_is_booked_at_once_and_the_polling_of_the_same_fill_adds_nothing(world):
    order = sent_order(world)
    world.rest.fill(order.broker_order_no, 3, 70_000)

    world.ws.push_fill_notice(HTS, ACCOUNT_DIGITS, order.broker_order_no, 3, 70_000, at="100001")
    world.ws.push_fill_notice(HTS, ACCOUNT_DIGITS, order.broker_order_no, 3, 70_000, at="100001")  # delivered twice
    wait_for(lambda: len(world.handled) == 2)

    fill = Fill.objects.get(order=order)
    assert (fill.quantity, fill.price, fill.source) == (D(3), D(70_000), "notice")
    reconcile.account_reconcile(account=world.account)  # the polling lists the same 3 shares
    order.refresh_from_db()
    assert Fill.objects.filter(order=order).count() == 1
    assert (order.state, order.filled_quantity) == ("partially_filled", D(3))


def test_a_fill_the_polling_booked_first_is_not_counted_again_by_its_notice(world):
    order = sent_order(world)
    world.rest.fill(order.broker_order_no, 3, 70_000)
    world.ws.push_fill_notice(HTS, ACCOUNT_DIGITS, order.broker_order_no, 3, 70_000)
    wait_for(lambda: len(world.handled) == 1)
    world.rest.fill(order.broker_order_no, 2, 70_100)
    reconcile.account_reconcile(account=world.account)  # the polling books the next 2 shares first

    world.ws.push_fill_notice(HTS, ACCOUNT_DIGITS, order.broker_order_no, 2, 70_100)
    wait_for(lambda: len(world.handled) == 2)

    assert world.handled[1] is None
    order.refresh_from_db()
    assert list(Fill.objects.filter(order=order).order_by("id").values_list("quantity", "source")) == [
        (D(3), "notice"), (D(2), "listing")]
    assert order.filled_quantity == 5


def test_receipts_and_refusals_ask_for_a_reconciliation_and_other_accounts_notices_are_ignored(world, caplog):
    caplog.set_level(logging.DEBUG)
    world.ws.push_fill_notice(HTS, "5099999901", "0000000077", 1, 70_000)  # another account of the HTS ID
    world.ws.push_receipt(HTS, ACCOUNT_DIGITS, "0000000078", 5, 70_000, refused=True)
    wait_for(lambda: world.handled)

    assert world.handled == [None] and world.reconciles == [world.account.pk]
    assert not Fill.objects.exists()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in (KEY, SECRET, ACCOUNT_DIGITS, HTS, *world.ws.approvals):
        assert secret not in logged
