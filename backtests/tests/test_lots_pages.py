"""Crypto in fractional lots through the platform: validation, the task, the stored result, the
results page, the trades API and the CSV download; stocks keep whole shares everywhere."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client

from backtests import services
from backtests.models import BacktestRun, RunStatus
from marketdata.models import Instrument
from marketdata.services import instruments_import_crypto

BTC = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": ["KRW-BTC"],
       "start": "2021-01-01", "end": "2025-12-31", "cash": 10_000_000, "commission": 0.0005}
STOCK = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": ["005930"],
         "start": "2018-01-01", "end": "2024-12-31", "cash": 10_000_000}
EIGHT_DECIMALS = re.compile(r"^\d+\.\d{8}$")


@pytest.fixture(autouse=True)
def _fresh_result_cache(fresh_result_cache):
    pass


@pytest.fixture
def upbit(sample_market):
    """The sample KRW-BTC as the crypto import files it: 1e-8 lots from 5,000 KRW an order."""
    instruments_import_crypto()
    btc = Instrument.objects.get(code="KRW-BTC")
    assert (str(btc.lot_size), str(btc.min_order_value)) == ("1E-8", "5000.00")
    return sample_market


def finish(api_client, body, django_capture_on_commit_callbacks) -> BacktestRun:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/backtests/", body, format="json")
    assert response.status_code == 201, response.json()
    services.backtest_execute(run_id=response.json()["id"])
    run = BacktestRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.error
    return run


def test_a_krw_btc_run_with_ten_million_won_trades_fractions_everywhere(
    api_client, upbit, media, no_worker, django_capture_on_commit_callbacks, user
):
    run = finish(api_client, BTC, django_capture_on_commit_callbacks)
    base = f"/api/v1/backtests/{run.pk}/"
    # the API: quantities are fractions of a coin, 8 decimals at most
    trades = api_client.get(base + "trades/", {"page_size": 500}).json()["results"]
    assert len(trades) > 5
    for trade in trades:
        assert 0 < trade["shares"] < 1
        assert trade["shares"] == round(trade["shares"], 8)
    closed = [trade for trade in trades if trade["exit_date"]]
    assert sum(trade["pnl"] for trade in closed) != 0
    # the CSV: the same quantities, written with their 8 decimals (never 5e-05)
    text = api_client.get(base + "download/trades.csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(trades)
    assert all(EIGHT_DECIMALS.match(row["shares"]) for row in rows), rows[0]["shares"]
    assert float(rows[0]["shares"]) == pytest.approx(trades[0]["shares"], abs=1e-8)
    # the results page: the trades table shows each quantity with the 8 decimals its lot needs
    client = Client()
    client.force_login(user)
    html = client.get(f"/backtests/{run.pk}/").content.decode()
    cells = re.findall(r'data-testid="trade-quantity">([^<]*)<', html)
    assert cells and all(EIGHT_DECIMALS.match(cell) for cell in cells), cells[:3]
    assert cells[0] == f"{trades[0]['shares']:.8f}"


def test_a_stock_run_keeps_whole_shares_on_the_page_in_the_api_and_in_the_csv(
    api_client, upbit, media, no_worker, django_capture_on_commit_callbacks, user
):
    run = finish(api_client, STOCK, django_capture_on_commit_callbacks)
    base = f"/api/v1/backtests/{run.pk}/"
    trades = api_client.get(base + "trades/", {"page_size": 500}).json()["results"]
    assert trades and all(isinstance(trade["shares"], int) for trade in trades)
    text = api_client.get(base + "download/trades.csv").content.decode("utf-8-sig")
    assert all(re.fullmatch(r"\d+", row["shares"]) for row in csv.DictReader(io.StringIO(text)))
    client = Client()
    client.force_login(user)
    html = client.get(f"/backtests/{run.pk}/").content.decode()
    cells = re.findall(r'data-testid="trade-quantity">([^<]*)<', html)
    assert cells and all(re.fullmatch(r"\d{1,3}(,\d{3})*", cell) for cell in cells), cells[:3]


def test_the_capital_check_asks_for_the_minimum_order_not_a_whole_coin(
    api_client, upbit, no_worker, django_capture_on_commit_callbacks
):
    # 10,000,000 KRW is less than one bitcoin, yet enough: the run is accepted
    with django_capture_on_commit_callbacks(execute=True):
        accepted = api_client.post("/api/v1/backtests/", BTC, format="json")
    assert accepted.status_code == 201, accepted.json()
    # 4,000 KRW is below Upbit's 5,000 KRW minimum order
    refused = api_client.post("/api/v1/backtests/", {**BTC, "cash": 4_000}, format="json")
    assert refused.status_code == 400
    (message,) = refused.json()["error"]["fields"]["cash"]
    assert "KRW-BTC" in message and "5,003" in message  # 5,000 KRW and the commission on it


def test_the_command_trades_a_krw_bar_file_in_lots(tmp_path):
    from django.core.management import call_command

    from backtests.tests.conftest import SAMPLE_BARS

    out = tmp_path / "trades.csv"
    call_command("backtest", "--csv", str(SAMPLE_BARS / "KRW-BTC.csv"), "--strategy", "sma_cross", "--param",
                 "fast=10", "--param", "slow=30", "--trades-out", str(out), stdout=io.StringIO())
    rows = list(csv.DictReader(out.open()))
    assert len(rows) > 10
    assert all(0 < float(row["shares"]) < 1 and len(row["shares"].split(".")[1]) <= 8 for row in rows)
