"""Fixtures of the trading tests: a fake KIS the platform's settings point at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.cache import caches

KEY = "PSalice0key" + "k" * 25  # 36 characters, as KIS issues them
SECRET = "alice-secret-" + "s" * 167  # 180 characters
ACCOUNT = "50123456-01"
ACCOUNT_DIGITS = "5012345601"


@dataclass
class KisWorld:
    server: object
    key: str = KEY
    secret: str = SECRET
    account_no: str = ACCOUNT


@pytest.fixture
def fake_kis(settings, db) -> Iterator[KisWorld]:
    """A fake KIS with alice's mock account (5,000,000 KRW and 10 shares of 삼성전자), fast pacing."""
    from trading.fakes.kis import FakeKis

    server = FakeKis(rate_limits={"mock": 50, "real": 50})
    server.add_account(KEY, SECRET, ACCOUNT, hts_id="alicehts", environment="mock", cash=5_000_000,
                       positions={"005930": (10, 65_000)})
    server.set_price("005930", 70_100, prev_close=69_000, name="삼성전자")
    server.start()
    settings.BROKER_KIS_MOCK_URL = settings.BROKER_KIS_REAL_URL = server.url
    settings.BROKER_KIS_MOCK_REQUESTS_PER_SECOND = 40
    caches["brokers"].clear()  # tokens of an earlier test's fake server
    try:
        yield KisWorld(server)
    finally:
        server.stop()
        caches["brokers"].clear()


@pytest.fixture
def user(user):
    """alice reads the site in English here: tests assert the messages' English text."""
    user.language = "en"
    user.save(update_fields=["language"])
    return user
