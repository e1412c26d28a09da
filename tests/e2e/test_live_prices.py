"""A live price reaches the instrument page: pushed ticks replace the price in the user's price
colours (Korean: down is blue), and a delayed tick carries its badge.

Full stack: the test publishes through ``publish_tick`` (Redis channel layer, the server's hub).
Embedded mode keeps the channel layer inside the server process, out of the test's reach: the page's
socket still goes to the server (handshake, sign-in check, instrument check), and the ticks are
played into it at the socket (Playwright's websocket routing)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from marketdata.tests.factories import InstrumentFactory
from tests.e2e.helpers import login
from trading.realtime import Tick, tick_message
from trading.realtime.fanout import publish_tick
from trading.realtime.hub import tick_payload

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

SEOUL = ZoneInfo("Asia/Seoul")
KOREAN_DOWN = "rgb(21, 101, 192)"  # --down under html.updown-kr (static/css/app.css)


def tick(price: str, change: str, rate: str, *, delayed: bool = False) -> Tick:
    return Tick(symbol="005930", price=Decimal(price), at=dt.datetime.now(SEOUL), change=Decimal(change),
                change_rate=Decimal(rate), source="poll" if delayed else "kis", delayed=delayed)  # fmt: skip


def test_the_instrument_page_shows_pushed_prices_in_korean_colours(page):
    InstrumentFactory(code="005930", name="삼성전자")
    user = UserFactory(email="live.prices@example.com", language="ko")
    sockets = []
    if settings.REDIS_URL:
        push = publish_tick
    else:
        def route(socket):
            socket.connect_to_server()
            sockets.append(socket)

        page.route_web_socket(re.compile(r"/ws/realtime/005930/$"), route)

        def push(item: Tick) -> None:
            for _ in range(100):  # until the page has opened its socket
                if sockets:
                    break
                page.wait_for_timeout(50)
            sockets[-1].send(json.dumps(tick_payload(tick_message(item))))

    login(page, user.email)
    page.goto("/markets/005930/")
    price, change = page.get_by_test_id("live-price"), page.get_by_test_id("live-change")
    expect(price).to_have_text("—")

    push(tick("71200", "700", "0.99"))
    expect(price).to_have_text("71,200")
    expect(change).to_have_text("▲ 700 (+0.99%)")
    expect(price).to_have_class(re.compile(r"\bup\b"))
    expect(page.get_by_test_id("live-delayed")).to_be_hidden()

    push(tick("70300", "-200", "-0.28", delayed=True))
    expect(price).to_have_text("70,300")
    expect(change).to_have_text("▼ 200 (-0.28%)")
    expect(price).to_have_css("color", KOREAN_DOWN)
    expect(page.get_by_test_id("live-delayed")).to_be_visible()
