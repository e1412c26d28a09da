"""The KRX calendar checked against KIS's chk-holiday: a closure KIS knows and the library missed
stops the live runner that day; a day only KIS opens changes nothing; no keys, no check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.audit import Actor
from coupons.tests.helpers import free_limits
from marketdata.calendar_check import broker_says_closed, calendar_check
from marketdata.calendars import SEOUL
from strategies.tests.factories import StrategyFactory
from trading.fakes.kis import FakeKis

KEY = "PSmarket0key" + "k" * 24
SECRET = "market-secret-" + "s" * 166
CLOSED = dt.date(2026, 12, 8)  # a Tuesday the exchange (in this test) closes at short notice


@pytest.fixture
def kis(settings, db):
    server = FakeKis(rate_limits={"real": 100})
    server.add_account(KEY, SECRET, "50000009-01", environment="real")
    server.holidays.add(CLOSED)
    server.start()
    settings.MARKET_DATA_KIS_BASE_URL = server.url
    settings.MARKET_DATA_KIS_APP_KEY, settings.MARKET_DATA_KIS_APP_SECRET = KEY, SECRET
    try:
        yield server
    finally:
        server.stop()


def test_a_closure_only_kis_knows_is_remembered_and_the_runner_skips_that_day(kis, user):
    from trading.live import services
    from trading.live.runner import due_deployments
    from trading.services import broker_account_open_paper

    found = calendar_check(day=dt.date(2026, 12, 7))

    by_day = {d.day: d for d in found}
    assert by_day[CLOSED].ours and not by_day[CLOSED].broker and broker_says_closed(CLOSED)
    christmas = by_day[dt.date(2026, 12, 25)]  # the fake opens every weekday: KIS "opens" a KRX holiday
    assert not christmas.ours and christmas.broker and not broker_says_closed(christmas.day)
    assert not broker_says_closed(dt.date(2026, 12, 9))

    free_limits(max_running_deployments=2, max_symbols_per_deployment=5)
    account = broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname="모의", cash=10_000_000)
    services.deployment_start(actor=Actor.of_user(user), deployment=services.deployment_create(
        actor=Actor.of_user(user), strategy=StrategyFactory(owner=user), account=account, name="",
        capital=Decimal(5_000_000)))
    pre_open = dt.time(8, 35)
    assert due_deployments(now=dt.datetime.combine(CLOSED, pre_open, SEOUL)) == {}
    assert len(due_deployments(now=dt.datetime.combine(dt.date(2026, 12, 9), pre_open, SEOUL))) == 1


def test_without_market_data_keys_nothing_is_checked(settings, db):
    settings.MARKET_DATA_KIS_APP_KEY = ""
    assert calendar_check(day=dt.date(2026, 12, 7)) is None


def test_a_kis_that_does_not_answer_changes_nothing(settings, db):
    settings.MARKET_DATA_KIS_BASE_URL = "http://127.0.0.1:9"
    settings.MARKET_DATA_KIS_APP_KEY, settings.MARKET_DATA_KIS_APP_SECRET = KEY, SECRET
    assert calendar_check(day=dt.date(2026, 12, 7)) is None
    assert not broker_says_closed(CLOSED)
