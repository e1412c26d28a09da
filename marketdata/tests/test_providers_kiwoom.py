"""The Kiwoom market-data provider is a thin adapter over the trading client: against the fake
Kiwoom of ``trading.fakes`` (Kiwoom's own answer shapes) it shares the token store and the request
budget it is given, and sorts the client's errors into transient and permanent provider errors."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from marketdata.providers import kiwoom as kiwoom_module
from marketdata.providers.base import ProviderError
from marketdata.providers.kiwoom import KiwoomProvider
from trading.brokers.base import Credentials
from trading.brokers.http import MemoryTokenStore
from trading.brokers.kiwoom import KiwoomClient
from trading.fakes.kiwoom import FakeKiwoom
from trading.fakes.server import Answer

KEY, SECRET = "market-data-key", "market-data-secret-DO-NOT-LEAK"
FIRST = date(2024, 1, 1)


@pytest.fixture
def fake():
    kiwoom_module.TOKENS.clear()
    server = FakeKiwoom(requests_per_second=1000)
    server.add_account(KEY, SECRET, "5011111111")
    server.set_bars("005930", [(FIRST + timedelta(days=i), 70_000, 71_000, 69_000, 70_000 + (-1) ** i * 500, 1_000 + i)
                               for i in range(300)])
    with server:
        yield server
    kiwoom_module.TOKENS.clear()


class CountingBudget:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def acquire(self, key: str, *, per_second: int, priority: bool = False) -> None:
        self.keys.append(key)


def provider(server: FakeKiwoom, **options) -> KiwoomProvider:
    return KiwoomProvider(server.url, KEY, SECRET, timeout=1.0, requests_per_second=0, rate_limit_retries=0, **options)


def test_it_returns_the_range_with_absolute_prices(fake):
    bars = provider(fake).daily_bars("005930", date(2024, 3, 1), date(2024, 8, 31))

    assert str(bars.date[0]) == "2024-03-01" and str(bars.date[-1]) == "2024-08-31"
    assert set(bars.close) == {69_500.0, 70_500.0}  # "-69500" / "+70500" in the answer
    assert bars.value[0] == round(bars.close[0] * bars.volume[0] / 1_000_000) * 1_000_000


def test_it_shares_the_token_store_and_budget_it_is_given(fake):
    tokens, budget = MemoryTokenStore(), CountingBudget()
    trading = KiwoomClient(Credentials(KEY, SECRET), base_url=fake.url, tokens=tokens, budget=budget)
    trading.quote("005930")

    provider(fake, tokens=tokens, budget=budget).daily_bars("005930", date(2024, 8, 1), date(2024, 8, 31))

    assert fake.token_issuances(KEY) == 1  # no second token for the same app key
    assert len(set(budget.keys)) == 1 and len(budget.keys) == fake.count()


def test_unadjusted_prices_are_asked_for_when_wanted(fake):
    provider(fake, adjusted=False).daily_bars("005930", date(2024, 8, 1), date(2024, 8, 31))
    assert fake.requests[-1].body["upd_stkpc_tp"] == "0"


@pytest.mark.parametrize(("answer", "reason", "permanent"), [
    (Answer(200, {"return_code": 1902, "return_msg": "[1902:종목 정보가 없습니다]"}), "does not know this symbol", True),
    (Answer(200, {"return_code": 1999, "return_msg": "[1999:예기치 못한 에러]"}), "unexpected server error", False),
    (Answer(503, "busy"), "server error HTTP 503", False),
    (Answer(200, {"return_code": 5, "return_msg": "[1700:허용된 요청 개수를 초과하였습니다]"}), "rate limited (1700)", False),
    ("reset", "connection failed", False),
])
def test_client_errors_become_provider_errors(fake, answer, reason, permanent):
    fake.fail_next("/api/dostk/chart", answer)
    with pytest.raises(ProviderError) as caught:
        provider(fake).daily_bars("005930", date(2024, 8, 1), date(2024, 8, 31))
    assert reason in caught.value.reason and caught.value.permanent is permanent


def test_a_refused_key_is_permanent_and_keeps_the_secret_out(fake):
    with pytest.raises(ProviderError) as caught:
        KiwoomProvider(fake.url, KEY, "wrong-" + SECRET, requests_per_second=0).daily_bars(
            "005930", date(2024, 8, 1), date(2024, 8, 31))
    assert caught.value.permanent and "8002" in caught.value.reason
    assert SECRET not in caught.value.reason


def test_missing_settings_are_named():
    with pytest.raises(ProviderError) as caught:
        KiwoomProvider("https://api.kiwoom.com", "", "").daily_bars("005930", FIRST, FIRST)
    assert caught.value.permanent and "MARKET_DATA_KIWOOM_APP_KEY" in caught.value.reason


def test_an_injected_httpx_client_is_used(fake):
    with httpx.Client() as client:
        bars = KiwoomProvider(fake.url, KEY, SECRET, client, requests_per_second=0).daily_bars(
            "005930", date(2024, 8, 1), date(2024, 8, 31))
    assert len(bars) == 31
