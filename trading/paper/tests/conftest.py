"""Fixtures of the paper broker's tests: a paper account, instruments with bars, the trading clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from core import clock
from marketdata.calendars import SEOUL
from marketdata.store import BarStore
from marketdata.tests.factories import CryptoInstrumentFactory, InstrumentFactory
from trading.models import BrokerAccount
from trading.paper.book import paper_book_open

# Wednesday 2026-03-04, a normal KRX day; the bars end the day before
WEDNESDAY = dt.date(2026, 3, 4)


def seoul(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute, second), SEOUL)


@pytest.fixture
def at(monkeypatch) -> Iterator[Callable[[dt.datetime], None]]:
    """``at(when)`` stops the trading clock at ``when`` (every process-local reader sees it)."""
    monkeypatch.delenv("CLOCK_FILE", raising=False)

    def move(when: dt.datetime) -> None:
        clock.set_to(when, tick=False)

    yield move
    clock.reset()


@pytest.fixture
def store(settings) -> BarStore:
    return BarStore(settings.MARKET_DATA_ROOT)


@pytest.fixture
def write_bar(store) -> Callable[..., None]:
    """``write_bar(code, market, day, close, volume)``: one daily bar (open = high = low = close)."""

    def write(code: str, market: str, day: str, close: float, volume: float = 1_000_000) -> None:
        store.write(code, market, date=[day], open=[close], high=[close], low=[close], close=[close], volume=[volume])

    return write


@pytest.fixture
def samsung(db, write_bar):
    """005930 on KOSPI, last close 71,300 on Tuesday 2026-03-03."""
    instrument = InstrumentFactory(code="005930", name="삼성전자")
    write_bar("005930", "KOSPI", "2026-03-02", 70_000)
    write_bar("005930", "KOSPI", "2026-03-03", 71_300)
    return instrument


@pytest.fixture
def bitcoin(db, write_bar):
    """KRW-BTC: lots of 1e-8, at least 5,000 KRW an order; last close 100,000,000 on Friday 2026-03-06."""
    instrument = CryptoInstrumentFactory(min_order_value=Decimal(5000))
    write_bar("KRW-BTC", "CRYPTO", "2026-03-05", 99_000_000, 1_500)
    write_bar("KRW-BTC", "CRYPTO", "2026-03-06", 100_000_000, 1_500)
    return instrument


def open_paper_account(owner, cash: int = 10_000_000, nickname: str = "모의투자") -> BrokerAccount:
    account = BrokerAccount.objects.create(owner=owner, broker="paper", environment="mock", nickname=nickname,
                                           paper_initial_cash=cash)
    paper_book_open(account=account, cash=cash)
    return account


@pytest.fixture
def account(user) -> BrokerAccount:
    return open_paper_account(user)


@pytest.fixture(autouse=True)
def _english():
    """The refusals' English text is what these tests read (Korean is the site's default)."""
    from django.utils import translation

    with translation.override("en"):
        yield
