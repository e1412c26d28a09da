"""A stored result file is its owner's: never served over HTTP by its storage name, never named in a header."""

import importlib

import pytest
from django.test import Client
from django.urls import clear_url_caches

from backtests import services
from backtests.models import BacktestRun

BODY = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": ["005930"],
        "start": "2018-01-01", "end": "2024-12-31", "cash": 10_000_000}


@pytest.fixture
def finished(api_client, sample_market, media, no_worker, django_capture_on_commit_callbacks) -> BacktestRun:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/backtests/", BODY, format="json")
    assert response.status_code == 201, response.json()
    services.backtest_execute(run_id=response.json()["id"])
    run = BacktestRun.objects.get(pk=response.json()["id"])
    assert run.result_file.name.startswith("backtests/")
    return run


@pytest.fixture
def embedded_urls(settings):
    """The URLconf as the embedded mode (DEBUG on) builds it."""
    import config.urls

    settings.DEBUG = True
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(config.urls)
    clear_url_caches()


def _media_url(run: BacktestRun) -> str:
    return "/media/" + run.result_file.name


def test_the_result_file_is_not_served_to_an_anonymous_client(finished, embedded_urls):
    response = Client().get(_media_url(finished))
    assert response.status_code == 404
    assert b"".join(getattr(response, "streaming_content", [response.content])) != finished.result_file.read()


def test_the_result_file_is_not_served_to_another_user(finished, other_user, embedded_urls):
    client = Client()
    client.force_login(other_user)
    assert client.get(_media_url(finished)).status_code == 404


def test_the_result_file_is_not_served_by_name_to_its_owner_either(finished, user, embedded_urls):
    """The owner reads results through the API and pages; the raw file has no URL at all."""
    client = Client()
    client.force_login(user)
    assert client.get(_media_url(finished)).status_code == 404


def test_the_results_etag_does_not_name_the_stored_file(api_client, finished):
    response = api_client.get(f"/api/v1/backtests/{finished.pk}/results/")
    assert response.status_code == 200
    stored = finished.result_file.name
    assert stored.rsplit("/", 1)[-1] not in response["ETag"]
    assert stored.rsplit("/", 1)[-1].rsplit(".", 1)[0] not in response["ETag"]
    assert all(stored.rsplit("/", 1)[-1] not in value for value in response.headers.values())
    again = api_client.get(f"/api/v1/backtests/{finished.pk}/results/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_the_results_etag_is_not_guessable_from_the_run_id(api_client, finished, settings):
    """Keyed by the server's secret: the same run under another secret has another ETag."""
    first = api_client.get(f"/api/v1/backtests/{finished.pk}/results/")["ETag"]
    settings.SECRET_KEY = "another-secret-" + "x" * 40
    assert api_client.get(f"/api/v1/backtests/{finished.pk}/results/")["ETag"] != first
