"""Fixtures of the ledger's tests: a fake KIS with the faults the ledger must survive, alice's KIS
mock account on it, a paper account, and a trading clock pinned to a normal KRX morning.

``FaultyKis`` adds two faults the shared fake lacks: an answer lost by a connection reset *after*
the order was carried out (``FakeServer.fail_next(path, "reset")`` resets *before* it reaches the
book), and a day listing that lags behind acceptances (``listing_lag`` seconds of the fake's clock).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.cache import caches

from core import clock
from core.audit import Actor
from marketdata.calendars import SEOUL
from trading.brokers.base import OrderType, Side
from trading.fakes.kis import KST, FakeKis
from trading.fakes.server import Answer, Request
from trading.models import BrokerAccount
from trading.orders import services
from trading.paper.tests.conftest import open_paper_account, samsung, store, write_bar  # noqa: F401 - fixtures

KEY = "PSledger0key" + "k" * 24
SECRET = "ledger-secret-" + "s" * 166
ACCOUNT = "50123456-01"
ACCOUNT_DIGITS = "5012345601"
ORDER_PATH = "/uapi/domestic-stock/v1/trading/order-cash"
CANCEL_PATH = "/uapi/domestic-stock/v1/trading/order-rvsecncl"
CCLD_PATH = "/uapi/domestic-stock/v1/trading/inquire-daily-ccld"
# Wednesday 2026-03-04, 10:00 in Seoul: a normal KRX day, continuous trading
MORNING = dt.datetime(2026, 3, 4, 10, 0, tzinfo=SEOUL)


class FaultyKis(FakeKis):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reset_after: Counter[str] = Counter()
        self.listing_lag = 0.0
        listing = self.book._handlers["inquire-daily-ccld"]

        def lagging(request: Request, account, params):
            full = account.orders
            cutoff = self.kst() - dt.timedelta(seconds=self.listing_lag)
            account.orders = [o for o in full if not self.listing_lag or _placed(o) <= cutoff]
            try:
                return listing(request, account, params)
            finally:
                account.orders = full

        self.book._handlers["inquire-daily-ccld"] = lagging

    def reset_after_next(self, path: str, times: int = 1) -> None:
        """Carry out the next request to ``path``, then close the connection without an answer."""
        with self.lock:
            self._reset_after[path] += times

    def _guarded(self, request: Request) -> Answer | str:
        answer = super()._guarded(request)
        if isinstance(answer, Answer) and answer.status == 200 and self._reset_after[request.path] > 0:
            self._reset_after[request.path] -= 1
            return "reset"
        return answer

    def placed(self) -> list:
        """The fake's own journal of orders (cancel rows left out)."""
        return [o for o in self.orders(KEY) if not o.cancel_row]


def _placed(order) -> dt.datetime:
    return dt.datetime.combine(order.day, dt.datetime.strptime(order.time, "%H%M%S").time(), KST)


@pytest.fixture
def morning(monkeypatch) -> Iterator[dt.datetime]:
    """The trading clock at Wednesday 10:00 Seoul, ticking; ``clock.set_to`` moves it further."""
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    clock.set_to(MORNING)
    yield MORNING
    clock.reset()


def later(seconds: float) -> None:
    """Move the trading clock ``seconds`` ahead (the fake broker's clock stays)."""
    clock.set_to(clock.now() + dt.timedelta(seconds=seconds))


@dataclass
class KisWorld:
    fake: FaultyKis
    account: BrokerAccount


@pytest.fixture
def kis(settings, user, morning) -> Iterator[KisWorld]:
    """alice's KIS mock account (5,000,000 KRW, 10 shares of 005930 at 65,000) on a fake KIS whose
    clock agrees with the trading clock; the client gives up on an answer after 0.5 s."""
    fake = FaultyKis(rate_limits={"mock": 50, "real": 50})
    fake.add_account(KEY, SECRET, ACCOUNT, hts_id="alicehts", environment="mock", cash=5_000_000,
                     positions={"005930": (10, 65_000)})
    fake.set_price("005930", 70_000, prev_close=69_000, name="삼성전자")
    fake.advance(MORNING.timestamp() - time.time())
    fake.start()
    settings.BROKER_KIS_MOCK_URL = settings.BROKER_KIS_REAL_URL = fake.url
    settings.BROKER_KIS_MOCK_REQUESTS_PER_SECOND = 40
    settings.BROKER_HTTP_READ_TIMEOUT = 0.5
    caches["brokers"].clear()
    account = BrokerAccount(owner=user, broker="kis", environment="mock", account_no=ACCOUNT_DIGITS,
                            hts_id="alicehts", nickname="KIS 모의", status="verified")
    account.set_keys(app_key=KEY, app_secret=SECRET)
    account.save()
    try:
        yield KisWorld(fake, account)
    finally:
        fake.stop()
        caches["brokers"].clear()


@pytest.fixture
def no_jobs(monkeypatch) -> dict[str, list[int]]:
    """Jobs the services would enqueue, recorded instead of sent to Celery."""
    queued: dict[str, list[int]] = {"submit": [], "cancel": [], "reconcile": []}
    monkeypatch.setattr(services, "enqueue_submit", queued["submit"].append)
    monkeypatch.setattr(services, "enqueue_cancel", queued["cancel"].append)
    monkeypatch.setattr(services, "enqueue_reconcile", queued["reconcile"].append)
    monkeypatch.setattr(services, "RETRY_PAUSES", (0.01, 0.01))
    return queued


def new_order(account: BrokerAccount, *, quantity: int = 3, price: int | None = 70_000, side: str = Side.BUY,
              symbol: str = "005930", **kwargs) -> services.Order:
    order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
    return services.order_create(actor=Actor.of_user(account.owner), account=account, symbol=symbol, side=side,
                                 quantity=Decimal(quantity), order_type=order_type,
                                 price=None if price is None else Decimal(price), **kwargs)


@pytest.fixture
def paper_account(user, samsung, morning) -> BrokerAccount:  # noqa: F811 - the imported fixture
    """alice's paper account (10,000,000 KRW); 005930 last closed at 71,300."""
    return open_paper_account(user)
