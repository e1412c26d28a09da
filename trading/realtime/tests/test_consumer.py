"""``/ws/realtime/<code>/``: signed-in users only, known instruments only, the last tick at once and
every tick after it; and the interest the feeds subscribe by (one per symbol, whatever the sockets)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from config.routing import websocket_urlpatterns
from core.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from marketdata.tests.factories import InstrumentFactory
from trading.realtime import Tick, fanout, interest

SEOUL = ZoneInfo("Asia/Seoul")
application = URLRouter(websocket_urlpatterns)


@pytest.fixture(autouse=True)
def _no_local_viewers():
    interest.reset_local()
    yield
    interest.reset_local()


def tick(symbol: str = "005930", price: str = "71200", **fields) -> Tick:
    values = {"at": dt.datetime(2026, 12, 4, 10, 15, 3, tzinfo=SEOUL), "volume": Decimal("12"),
              "change": Decimal("700"), "change_rate": Decimal("0.99"), **fields}  # fmt: skip
    return Tick(symbol=symbol, price=Decimal(price), **values)


def publish(item: Tick):
    """Publish from another thread, as a feed does."""
    def run():
        try:
            fanout.publish_tick(item)
        finally:
            connections.close_all()

    return sync_to_async(run, thread_sensitive=False)()


def socket_for(user, path: str = "/ws/realtime/005930/") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path)
    communicator.scope["user"] = user
    return communicator


@pytest.mark.asyncio
async def test_an_anonymous_socket_is_closed_with_the_unauthenticated_code():
    communicator = socket_for(AnonymousUser())
    assert (await communicator.connect(timeout=3))[0] is True
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_unknown_instrument_is_refused_with_not_found(user):
    await sync_to_async(InstrumentFactory)(code="005930")
    communicator = socket_for(user, "/ws/realtime/999999/")
    assert (await communicator.connect(timeout=3))[0] is True  # accepted to say why, then closed
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    assert await sync_to_async(interest.interest_symbols)() == []


@pytest.mark.parametrize("path", ["/ws/realtime/", "/ws/realtime/00 5930/", "/ws/realtime/005930/x/",
                                  "/ws/realtime/-005930/", "/ws/realtime/" + "1" * 21 + "/", "/ws/realtime/%2e%2e/"])
@pytest.mark.asyncio
async def test_a_malformed_code_is_refused_before_any_lookup(path, user):
    communicator = socket_for(user, path)
    assert await communicator.connect(timeout=3) == (False, CLOSE_NOT_FOUND)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_viewer_gets_the_last_tick_at_once_then_every_tick_of_its_symbol_only(user, other_user):
    await sync_to_async(InstrumentFactory)(code="005930")
    await sync_to_async(InstrumentFactory)(code="000660")
    await publish(tick(price="71100"))

    alice, bob = socket_for(user), socket_for(other_user, "/ws/realtime/000660/")
    assert (await alice.connect(timeout=3))[0] and (await bob.connect(timeout=3))[0]
    assert (await alice.receive_json_from(timeout=3))["price"] == "71100"  # the current price, before any new tick
    assert await bob.receive_nothing(timeout=0.1)  # no tick of SK hynix yet

    await publish(tick(price="71200", delayed=True, source="poll"))

    assert await alice.receive_json_from(timeout=3) == {
        "symbol": "005930", "price": "71200", "at": "2026-12-04T10:15:03+09:00", "change": "700",
        "change_rate": "0.99", "volume": "12", "source": "poll", "delayed": True}  # fmt: skip
    assert await bob.receive_nothing(timeout=0.3)
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_viewers_make_one_interest_per_symbol_dropped_when_the_last_leaves(user, other_user):
    await sync_to_async(InstrumentFactory)(code="005930")
    symbols = sync_to_async(interest.interest_symbols)
    first, second = socket_for(user), socket_for(other_user)

    assert (await first.connect(timeout=3))[0]
    assert await symbols() == ["005930"]
    assert (await second.connect(timeout=3))[0]
    await first.disconnect()
    assert await symbols() == ["005930"]  # the other viewer still watches
    await second.disconnect()
    assert await symbols() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_socket_answers_a_ping_and_ignores_junk(user):
    await sync_to_async(InstrumentFactory)(code="005930")
    communicator = socket_for(user)
    assert (await communicator.connect(timeout=3))[0]
    await communicator.send_to(text_data="{not json")  # ignored, the socket stays open
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"event": "pong"}
    await communicator.disconnect()


# -- interest across processes (each join/drop below is one process's first/last viewer) ----------
def test_a_symbol_stays_watched_until_the_last_process_drops_it():
    interest.interest_join("005930")  # process A
    interest.interest_join("005930")  # process B
    interest.interest_drop("005930")  # A's viewers left
    assert interest.interest_symbols() == ["005930"]
    interest.interest_drop("005930")
    assert interest.interest_symbols() == []


def test_the_most_recently_touched_symbols_come_first(monkeypatch):
    clock = iter([100.0, 200.0, 300.0, 400.0])
    monkeypatch.setattr(interest, "_now", lambda: next(clock))
    for symbol in ["005930", "000660", "035420"]:
        interest.interest_join(symbol)
    interest.interest_touch("000660")
    assert interest.interest_symbols() == ["000660", "035420", "005930"]


def test_a_process_that_died_with_viewers_does_not_keep_a_symbol_for_ever():
    from django.core.cache import cache

    interest.interest_join("005930")  # process A is killed: it never drops
    cache.delete("realtime:interest:at:005930")  # ... and a minute without touches passes
    assert interest.interest_symbols() == []
    interest.interest_join("005930")  # process B's viewer comes and goes
    interest.interest_drop("005930")
    assert interest.interest_symbols() == []  # at once, not a minute later


def test_the_last_tick_is_kept_for_new_viewers_and_the_paper_broker():
    fanout.publish_tick(tick(price="71300"))
    assert fanout.last_tick("005930") == tick(price="71300")
    assert fanout.last_tick("000660") is None
