"""The fake Kiwoom answers like Kiwoom where a client could be fooled: the per-key request limit,
the api-id of each path, token expiry by the clock, the mock host's KRX-only orders, and the demo
the runner serves."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from trading.brokers.base import Credentials, OrderRequest, OrderType, Refused, Side
from trading.brokers.kiwoom import KST, KiwoomClient
from trading.fakes.kiwoom import DEMO_ACCOUNT, FakeKiwoom, build_demo

START = datetime(2025, 3, 3, 10, 0, tzinfo=KST).timestamp()


class Clock:
    now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock):
    server = FakeKiwoom(clock=clock, requests_per_second=3)
    server.add_account("alice-key", "alice-secret", "5012345611")
    server.add_account("bob-key", "bob-secret", "5022222211")
    server.set_price("005930", 70_000, name="삼성전자")
    with server:
        yield server


def issue(server: FakeKiwoom, key: str, secret: str) -> dict:
    return httpx.post(server.url + "/oauth2/token", headers={"api-id": "au10001"},
                      json={"grant_type": "client_credentials", "appkey": key, "secretkey": secret}).json()


def token(server: FakeKiwoom, key: str, secret: str) -> str:
    answer = issue(server, key, secret)
    assert answer["return_code"] == 0
    return answer["token"]


def quote(server: FakeKiwoom, bearer: str, api_id: str = "ka10001") -> dict:
    return httpx.post(server.url + "/api/dostk/stkinfo", json={"stk_cd": "005930"},
                      headers={"api-id": api_id, "authorization": f"Bearer {bearer}", "cont-yn": "N",
                               "next-key": ""}).json()


def test_each_key_has_its_own_limit_and_the_excess_gets_1700(fake):
    alice, bob = token(fake, "alice-key", "alice-secret"), token(fake, "bob-key", "bob-secret")
    answers = [quote(fake, alice)["return_code"] for _ in range(3)]  # the token took one of alice's three

    assert answers == [0, 0, 5]
    assert "[1700:" in quote(fake, alice)["return_msg"]
    assert quote(fake, bob)["return_code"] == 0
    assert fake.max_per_window(app_key="alice-key") == 5  # every request counted under its token's key
    assert fake.max_per_window(app_key="bob-key") == 2


def test_an_api_id_of_another_path_is_refused(fake):
    assert quote(fake, token(fake, "alice-key", "alice-secret"), api_id="kt00018")["return_code"] == 1504


def test_tokens_expire_on_the_clock_at_the_korean_time_they_state(fake, clock):
    fake.requests_per_second = 100
    answer = issue(fake, "alice-key", "alice-secret")
    assert answer["expires_dt"] == "20250304100000"  # 24 hours after 2025-03-03 10:00 KST
    clock.now = START + 86400 - 1
    assert quote(fake, answer["token"])["return_code"] == 0
    clock.now = START + 86400
    assert quote(fake, answer["token"])["return_code"] == 8005


def test_the_mock_host_takes_krx_orders_only(clock):
    with FakeKiwoom(environment="mock", clock=clock, requests_per_second=100) as server:
        server.add_account("mock-key", "mock-secret", "8012345611", environment="mock")
        server.set_price("005930", 70_000)
        client = KiwoomClient(Credentials("mock-key", "mock-secret"), base_url=server.url, requests_per_second=100,
                              clock=clock)
        assert client.place_order(OrderRequest("005930", Side.BUY, Decimal(1), OrderType.MARKET)).order_no
        bearer = next(iter(server.tokens))
        headers = {"api-id": "kt10000", "authorization": f"Bearer {bearer}"}
        answer = httpx.post(server.url + "/api/dostk/ordr", headers=headers,
                            json={"dmst_stex_tp": "NXT", "stk_cd": "005930", "ord_qty": "1", "ord_uv": "",
                                  "trde_tp": "3", "cond_uv": ""}).json()
        assert answer["return_code"] != 0 and "KRX" in answer["return_msg"]


def test_the_demo_serves_a_ready_account(clock):
    server = build_demo()
    server.clock, server.requests_per_second = clock, 100
    with server:
        client = KiwoomClient(Credentials(DEMO_ACCOUNT["app_key"], DEMO_ACCOUNT["app_secret"],
                                          account_no=DEMO_ACCOUNT["account_no"]),
                              base_url=server.url, requests_per_second=100, clock=clock)
        assert client.verify_account() == "****3456-11"
        assert client.sellable_quantity("005930") == 10
        assert server.demo_lines()[0] == f"BROKER_KIWOOM_REAL_URL={server.url}"
        with pytest.raises(Refused):  # an unknown key
            KiwoomClient(Credentials("unknown", "x"), base_url=server.url, clock=clock).ensure_token()


def test_the_runner_serves_the_demo():
    runner = subprocess.Popen([sys.executable, "-m", "trading.fakes", "kiwoom", "--demo"], stdout=subprocess.PIPE,
                              text=True)
    try:
        first = runner.stdout.readline()
        url = first.rsplit(" ", 1)[-1].strip()
        assert first.startswith("fake kiwoom serving on http://127.0.0.1:")
        assert runner.stdout.readline().strip() == f"BROKER_KIWOOM_REAL_URL={url}"
        answer = httpx.post(url + "/oauth2/token", json={"grant_type": "client_credentials",
                                                         "appkey": DEMO_ACCOUNT["app_key"],
                                                         "secretkey": DEMO_ACCOUNT["app_secret"]}).json()
        assert answer["return_code"] == 0
    finally:
        runner.terminate()
        runner.wait(timeout=10)
