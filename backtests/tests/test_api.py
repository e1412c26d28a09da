import csv
import io
import json

import pytest
from django.conf import settings
from django.utils import translation

from backtests import services, validation
from backtests.models import BacktestRun, RunStatus

URL = "/api/v1/backtests/"
BODY = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": ["005930"],
        "start": "2018-01-01", "end": "2024-12-31", "cash": 10_000_000}


def create(client, django_capture_on_commit_callbacks, **changes):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(URL, {**BODY, **changes}, format="json")


@pytest.fixture
def finished(api_client, user, sample_market, media, no_worker, django_capture_on_commit_callbacks):
    response = create(api_client, django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    services.backtest_execute(run_id=response.json()["id"])
    return BacktestRun.objects.get(pk=response.json()["id"])


def test_create_queues_a_run(api_client, sample_market, no_worker, django_capture_on_commit_callbacks):
    response = create(api_client, django_capture_on_commit_callbacks)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued" and body["codes"] == ["005930"] and body["params"] == {"fast": 10, "slow": 30}


def test_create_reports_the_same_field_messages_as_the_form(api_client, sample_market, no_worker,
                                                            django_capture_on_commit_callbacks):
    response = create(api_client, django_capture_on_commit_callbacks, codes=["005930", "999999"],
                      end="2017-01-01", params={"fast": 40, "slow": 30})
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    with translation.override("ko"):  # the site's language for a request without preferences
        assert fields["codes"] == [str(validation.UNKNOWN_CODES % {"codes": "999999"})]
        assert fields["end"] == [str(validation.END_BEFORE_START)]
    assert "params.slow" in fields


def test_the_same_idempotency_key_returns_the_same_run(api_client, sample_market, no_worker,
                                                       django_capture_on_commit_callbacks):
    first = create(api_client, django_capture_on_commit_callbacks, submission_key="k1")
    second = create(api_client, django_capture_on_commit_callbacks, submission_key="k1")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def test_results_trades_signals_and_downloads(api_client, finished):
    base = f"{URL}{finished.pk}/"
    results = api_client.get(base + "results/").json()
    assert results["metrics"]["trades"] == finished.trades
    assert len(results["series"]["dates"]) == len(results["series"]["equity"]) == len(results["series"]["benchmark"])

    trades = api_client.get(base + "trades/", {"sort": "-net_return", "page_size": 500}).json()
    returns = [t["net_return"] for t in trades["results"] if t["net_return"] is not None]
    assert returns == sorted(returns, reverse=True)
    assert trades["count"] == finished.trades + results["metrics"]["open_trades"]

    signals = api_client.get(base + "signals/").json()
    assert signals["count"] > 0 and {s["type"] for s in signals["results"]} <= {"entry", "exit"}

    download = api_client.get(base + "download/trades.csv")
    assert download["Content-Disposition"] == f'attachment; filename="backtest-{finished.pk}-trades.csv"'
    text = download.content.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads Korean names only with the BOM
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0]["name"] == "삼성전자"
    document = json.loads(api_client.get(base + "download/result.json").content)
    assert document["inputs"]["params"] == {"fast": 10, "slow": 30}
    assert len(document["trades"]) == len(rows)


def test_results_of_an_unfinished_run_answer_409(api_client, sample_market, no_worker,
                                                 django_capture_on_commit_callbacks):
    run_id = create(api_client, django_capture_on_commit_callbacks).json()["id"]
    response = api_client.get(f"{URL}{run_id}/results/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_finished"


def test_cancel_and_delete(api_client, sample_market, no_worker, django_capture_on_commit_callbacks):
    run_id = create(api_client, django_capture_on_commit_callbacks).json()["id"]
    assert api_client.delete(f"{URL}{run_id}/").status_code == 400  # still queued
    response = api_client.post(f"{URL}{run_id}/cancel/")
    assert response.json()["status"] == "cancelled"
    assert api_client.post(f"{URL}{run_id}/cancel/").status_code == 400
    assert api_client.delete(f"{URL}{run_id}/").status_code == 204


def test_list_filters_and_sorts(api_client, finished, sample_market, no_worker, django_capture_on_commit_callbacks):
    create(api_client, django_capture_on_commit_callbacks, codes=["000660"], strategy_type="rsi_reversion", params={})
    assert [r["id"] for r in api_client.get(URL, {"symbol": "005930"}).json()["results"]] == [finished.pk]
    assert api_client.get(URL, {"strategy_type": "rsi_reversion"}).json()["count"] == 1
    assert api_client.get(URL, {"status": "succeeded"}).json()["count"] == 1
    ordered = api_client.get(URL, {"sort": "-total_return"}).json()["results"]
    assert ordered[0]["id"] == finished.pk  # runs without results come last


def test_another_users_run_is_not_found(other_api_client, finished):
    base = f"{URL}{finished.pk}/"
    for path in ("", "results/", "trades/", "signals/", "download/trades.csv"):
        assert other_api_client.get(base + path).status_code == 404, path
    assert other_api_client.post(base + "cancel/").status_code == 404
    assert other_api_client.post(base + "rerun/").status_code == 404
    assert other_api_client.delete(base).status_code == 404
    assert other_api_client.get(URL).json()["count"] == 0
    assert BacktestRun.objects.filter(pk=finished.pk, status=RunStatus.SUCCEEDED).exists()


def test_results_carry_an_etag_and_answer_304_when_the_client_has_them(api_client, finished):
    url = f"{URL}{finished.pk}/results/"
    first = api_client.get(url)
    assert first.status_code == 200 and first["ETag"]
    again = api_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("language", ["en", "ko"])
def test_a_token_request_speaks_the_accounts_language_without_cookies(user, sample_market, language):
    """The mobile app keeps no cookies: its messages follow the account, not the site default."""
    from rest_framework.test import APIClient

    from accounts.services import api_token_create

    user.language, user.timezone = language, "America/New_York"
    user.save()
    app = APIClient()
    app.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user, name='phone')[1]}")
    response = app.post(URL, {**BODY, "end": "2017-01-01"}, format="json")
    assert response.status_code == 400 and response["Content-Language"] == language
    with translation.override(language):
        assert response.json()["error"]["fields"]["end"] == [str(validation.END_BEFORE_START)]
    created = app.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="tz-check")
    assert created.status_code == 201
    assert created.json()["created_at"].endswith(("-05:00", "-04:00"))  # the account's time zone


def test_a_plan_limit_answers_with_the_plan_that_lifts_it(api_client, user, sample_market, no_worker,
                                                          django_capture_on_commit_callbacks):
    from coupons.tests.helpers import free_limits

    free_limits(max_symbols_per_backtest=1, max_backtests_per_day=1)
    user.language = "en"  # the messages' English text is asserted (the cookie follows the user)
    user.save(update_fields=["language"])
    api_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = create(api_client, django_capture_on_commit_callbacks, codes=["005930", "000660"])
    assert response.status_code == 400
    assert "Symbols per backtest: your plan Free allows 1. Pro allows 500." in json.dumps(response.json())
    assert create(api_client, django_capture_on_commit_callbacks).status_code == 201
    refused = create(api_client, django_capture_on_commit_callbacks)
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"]["code"] == "plan_limit"
    assert body["error"]["message"].startswith("Backtests per day: your plan Free allows 1. Pro allows 1,000.")
