"""Bad input to the backtest pages and API is a 4xx naming the field, never a 500 (issue 10).

Each value here answered 500 once: an id too long for a 64-bit column, a range whose step count
overflows a float, capital above what a bigint holds, a download name nobody defined.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from backtests import selectors, services, sweeps, validation
from backtests.models import BacktestRun, BacktestSweep
from core import limits
from marketdata.models import Instrument

URL = "/api/v1/backtests/"
SWEEPS = "/api/v1/backtest-sweeps/"
BODY = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": ["005930"],
        "start": "2018-01-01", "end": "2024-12-31", "cash": 10_000_000}
NOT_AN_ID = ["false", "abc", "1.5", "9" * 20, "-1", "0"]
NOT_A_DATE = ["yesterday", "2024-13-01", "0001-01-01", "9999-12-31", "9" * 20]


@pytest.fixture
def alice(client: Client, user) -> Client:
    user.language = "en"
    user.save(update_fields=["language"])
    client.force_login(user)
    return client


def error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


@pytest.fixture
def finished(api_client, user, sample_market, media, no_worker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, BODY, format="json")
    assert response.status_code == 201, response.content
    return services.backtest_execute(run_id=response.json()["id"])


# ---------------------------------------------------------------------------------------------------
# List filters
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", NOT_AN_ID)
def test_the_api_list_refuses_a_strategy_that_is_not_an_id(api_client, value):
    fields = error_fields(api_client.get(URL, {"strategy": value}))
    assert list(fields) == ["strategy"]


@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("value", NOT_A_DATE)
def test_the_api_list_refuses_a_date_it_cannot_use(api_client, name, value):
    assert list(error_fields(api_client.get(URL, {name: value}))) == [name]


@pytest.mark.parametrize("name, value", [("status", "exploded"), ("sort", "-password"), ("symbol", "X" * 100)])
def test_the_api_list_refuses_other_values_it_does_not_know(api_client, name, value):
    assert list(error_fields(api_client.get(URL, {name: value}))) == [name]


def test_the_api_list_still_filters_with_good_values(api_client, user, finished):
    assert api_client.get(URL, {"strategy": "1", "since": "2020-01-01", "sort": "-sharpe"}).json()["count"] == 0
    listed = api_client.get(URL, {"since": "2020-01-01", "status": "succeeded", "symbol": "005930"}).json()
    assert [run["id"] for run in listed["results"]] == [finished.pk]


@pytest.mark.parametrize("value", NOT_AN_ID)
def test_the_history_page_ignores_a_bad_strategy_and_says_so(alice, user, value):
    response = alice.get("/backtests/", {"strategy": value, "status": "succeeded"})
    assert response.status_code == 400
    (message,) = selectors.backtest_filter_messages({"strategy": value})
    assert message.startswith(str(selectors.FILTER_IGNORED) % {"field": "Strategy", "reason": ""})
    assert message in response.content.decode()
    assert response.context["filters"]["status"] == "succeeded"  # the good filters still apply


@pytest.mark.parametrize("value", NOT_A_DATE)
def test_the_history_page_ignores_a_bad_date_and_says_so(alice, value):
    response = alice.get("/backtests/", {"since": value})
    assert response.status_code == 400
    (message,) = selectors.backtest_filter_messages({"since": value})
    assert "“Since”" in message and message in response.content.decode()


def test_the_backtest_list_raises_naming_every_bad_field(user):
    with pytest.raises(validation.ValidationError) as raised:
        selectors.backtest_list(user=user, filters={"strategy": "9" * 20, "until": "nope", "symbol": "005930"})
    assert set(raised.value.message_dict) == {"strategy", "until"}


@pytest.mark.parametrize("path", ["/backtests/new/?from={v}", "/backtests/new/?strategy={v}", "/viewer/?run={v}",
                                  "/backtests/compare/?ids=1&ids={v}", "/backtests/{v}/",
                                  "/backtests/sweeps/{v}/"])
def test_a_page_given_an_id_too_big_for_the_database_is_a_404(alice, path):
    assert alice.get(path.format(v="9" * 20)).status_code == 404


@pytest.mark.parametrize("path", ["{v}/", "{v}/results/", "{v}/download/trades.csv"])
def test_the_api_given_an_id_too_big_for_the_database_is_a_404(api_client, path):
    assert api_client.get(URL + path.format(v="9" * 20)).status_code == 404


# ---------------------------------------------------------------------------------------------------
# Downloads
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["secrets.txt", "result.JSON", "trades.csv.bak", "x" * 300])
def test_an_unknown_download_is_a_404_on_the_api_and_the_page(api_client, alice, finished, name):
    response = api_client.get(f"{URL}{finished.pk}/download/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert alice.get(f"/backtests/{finished.pk}/download/{name}").status_code == 404


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"])
def test_csv_downloads_neutralise_names_a_spreadsheet_would_run(api_client, finished, name):
    Instrument.objects.filter(code="005930").update(name=name)
    for kind, column in (("trades", "name"), ("signals", "name")):
        text = api_client.get(f"{URL}{finished.pk}/download/{kind}.csv").content.decode("utf-8").lstrip("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows and {row[column] for row in rows} == {"'" + name}
        # numbers stay numbers, negative returns included
        if kind == "trades":
            assert any(row["net_return_pct"].startswith("-") for row in rows)
            assert all(float(row["net_return_pct"]) == float(row["net_return_pct"]) for row in rows)


# ---------------------------------------------------------------------------------------------------
# Capital, counts and dates
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cash", [2**63, 2**63 - 1, 10**13 + 1, 10**400],
                         ids=["2^63", "2^63-1", "cap+1", "1e400"])
def test_the_api_refuses_capital_above_the_cap(api_client, sample_market, no_worker, cash):
    fields = error_fields(api_client.post(URL, {**BODY, "cash": cash}, format="json"))
    assert list(fields) == ["cash"]
    assert not BacktestRun.objects.exists()


def test_capital_at_the_cap_is_accepted(api_client, sample_market, no_worker):
    response = api_client.post(URL, {**BODY, "cash": limits.MAX_MONEY_KRW}, format="json")
    assert response.status_code == 201, response.content
    assert BacktestRun.objects.get().cash == limits.MAX_MONEY_KRW


@pytest.mark.parametrize("name, value", [("max_positions", 10**12), ("max_positions", 1001),
                                         ("max_holding_days", 10_001), ("max_holding_days", 2**63),
                                         ("sizing_value", "99999999999999"), ("strategy", 2**63)])
def test_the_api_refuses_counts_above_their_cap(api_client, sample_market, no_worker, name, value):
    extra = {"sizing": "fixed_krw"} if name == "sizing_value" else {}
    fields = error_fields(api_client.post(URL, {**BODY, **extra, name: value}, format="json"))
    assert name in fields


@pytest.mark.parametrize("name, value", [("start", "0001-01-01"), ("start", "1989-12-31"), ("end", "2101-01-01"),
                                         ("end", "9999-12-31")])
def test_the_api_refuses_dates_outside_the_supported_years(api_client, sample_market, no_worker, name, value):
    fields = error_fields(api_client.post(URL, {**BODY, name: value}, format="json"))
    assert name in fields


@pytest.mark.parametrize("name, value", [("cash", str(2**63)), ("cash", "1" + "0" * 400), ("max_positions", "1001"),
                                         ("max_holding_days", "10001"), ("start", "0001-01-01"),
                                         ("end", "9999-12-31")])
def test_the_form_refuses_values_above_their_cap(alice, sample_market, no_worker, name, value):
    form = {"strategy": "", "title": "", "strategy_type": "sma_cross", "params.fast": "10", "params.slow": "30",
            "codes": "005930", "start": "2018-01-01", "end": "2024-12-31", "cash": "10000000", "commission": "0.015",
            "sell_tax": "", "slippage_bps": "0", "fill": "next_open", "accounts": "shared", "sizing": "",
            name: value}
    response = alice.post("/backtests/new/", form)
    assert response.status_code == 400
    assert name in response.context["form"].errors
    assert not BacktestRun.objects.exists()


def test_the_service_check_refuses_capital_above_the_cap(sample_market):
    with pytest.raises(validation.ValidationError) as raised:
        validation.backtest_spec_check(strategy_type="sma_cross", params={}, codes="005930",
                                       start=validation.dt.date(2018, 1, 1), end=validation.dt.date(2024, 1, 1),
                                       cash=2**63)
    assert "cash" in raised.value.message_dict


# ---------------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------------
SWEEP = {**BODY, "x_param": "fast", "y_param": "slow", "y_values": [30, 60]}
BAD_RANGES = ["0:inf:1", "inf", "-inf:5:1", "1:1e308:1", "1e308", "0:10:1e-300", "1" * 400, "1:" + "9" * 400 + ":1",
              "nan", "1e-300"]


@pytest.mark.parametrize("values", [*BAD_RANGES, [10**400], [1e308], [float("1e-300")], [True]])
@pytest.mark.parametrize("axis", ["x", "y"])
def test_the_sweep_api_refuses_ranges_it_cannot_use(api_client, sample_market, monkeypatch, values, axis):
    monkeypatch.setattr(sweeps, "_enqueue", lambda sweep_id, chunks: None)
    body = {**SWEEP, "x_values": "5:20:5", f"{axis}_values": values}
    fields = error_fields(api_client.post(SWEEPS, body, format="json"))
    assert f"{axis}_values" in fields
    assert not BacktestSweep.objects.exists()


@pytest.mark.parametrize("values", BAD_RANGES)
def test_the_sweep_form_refuses_ranges_it_cannot_use(alice, sample_market, monkeypatch, values):
    monkeypatch.setattr(sweeps, "_enqueue", lambda sweep_id, chunks: None)
    form = {"strategy": "", "title": "", "strategy_type": "sma_cross", "params.fast": "10", "params.slow": "30",
            "codes": "005930", "start": "2018-01-01", "end": "2024-12-31", "cash": "10000000", "commission": "0.015",
            "sell_tax": "", "slippage_bps": "0", "fill": "next_open", "accounts": "shared", "sizing": "",
            "x_param": "fast", "x_values": values, "y_param": "", "y_values": "", "metric": "sharpe"}
    response = alice.post("/backtests/sweeps/new/", form)
    assert response.status_code == 400
    assert "x_values" in response.context["form"].errors


@pytest.mark.parametrize("raw", ["9" * 400, "1:" + "9" * 400 + ":1", "0:inf:1", "0:10:1e-300", "abc", [10**400],
                                 [True], ["inf"]])
def test_parse_values_raises_value_error_only(raw):
    with pytest.raises(ValueError):
        sweeps.parse_values(raw)
