"""Bodies the API cannot take answer in its own error shape, never a 500 or Django's HTML page."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from core import parsers

pytestmark = pytest.mark.django_db

# a POST of each kind the API takes: a strategy, a watchlist, a backtest, a sweep, a token
POSTS = ["/api/v1/strategies/", "/api/v1/watchlists/", "/api/v1/backtests/", "/api/v1/backtest-sweeps/",
         "/api/v1/auth/token/"]


@pytest.fixture
def browser(user) -> Client:
    """A plain HTTP client: the request goes through every middleware, as a phone's does."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    return response.json()["error"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("depth", [parsers.MAX_JSON_DEPTH + 1, 10_000, 100_000])
def test_a_body_nested_too_deep_is_a_400(api_client, path, depth):
    response = api_client.generic("POST", path, nested(depth), content_type="application/json")
    error = error_of(response, 400)
    assert error["code"] == "too_deep"


@pytest.mark.parametrize("path", POSTS)
def test_a_body_nested_within_the_limit_is_parsed(api_client, path):
    response = api_client.generic("POST", path, json.dumps({"name": {"a": [[1]]}}), content_type="application/json")
    assert response.status_code in (400, 401, 429)  # parsed and judged by the view, not refused as too deep
    assert response.json()["error"]["code"] != "too_deep"


@pytest.mark.parametrize("path", POSTS)
def test_a_body_over_the_size_limit_is_a_413_in_the_api_shape(browser, settings, path):
    body = json.dumps({"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = browser.post(path, body, content_type="application/json")
    error = error_of(response, 413)
    assert error["code"] == "too_large"


def test_the_parser_refuses_depth_without_recursing():
    import io

    with pytest.raises(parsers.ParseError) as raised:
        parsers.JSONParser().parse(io.BytesIO(nested(200_000).encode()))
    assert raised.value.detail.code == "too_deep"


def test_the_parser_reads_no_more_than_the_size_limit_from_a_stream(settings):
    import io

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 2000}).encode()
    with pytest.raises(parsers.TooLarge) as raised:
        parsers.JSONParser().parse(io.BytesIO(body))
    assert raised.value.status_code == 413 and raised.value.detail.code == "too_large"
    assert parsers.JSONParser().parse(io.BytesIO(json.dumps({"name": "x" * 900}).encode()))["name"] == "x" * 900


@pytest.mark.parametrize("body", [b'{"a": NaN}', b"\xff\xfe", b'{"a": 1', b"[" * 5])
def test_a_body_that_is_not_json_is_a_400(api_client, body):
    response = api_client.generic("POST", "/api/v1/strategies/", body, content_type="application/json")
    assert error_of(response, 400)["code"] == "parse_error"
