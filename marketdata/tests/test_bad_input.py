"""Dates outside the supported years are refused on the bars API (issue 10), in JSON and CSV alike."""

from __future__ import annotations

import pytest

from core import limits
from marketdata.models import Instrument, Market

pytestmark = pytest.mark.django_db
BARS = "/api/v1/instruments/005930/bars/"


@pytest.fixture(autouse=True)
def samsung(settings, tmp_path):
    settings.MARKET_DATA_ROOT = tmp_path / "marketdata"
    return Instrument.objects.create(code="005930", name="삼성전자", market=Market.KOSPI)


@pytest.mark.parametrize("name", ["start", "end"])
@pytest.mark.parametrize("value", ["0001-01-01", "1989-12-31", "2101-01-01", "9999-12-31"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_bars_refuse_a_date_outside_the_supported_years(api_client, name, value, fmt):
    response = api_client.get(BARS, {name: value, "format": fmt})
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == [name]


@pytest.mark.parametrize("name", ["start", "end"])
def test_bars_accept_the_first_and_last_supported_days(api_client, name):
    for day in (limits.MIN_DATE, limits.MAX_DATE):
        assert api_client.get(BARS, {name: day.isoformat()}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/instruments/", "/markets/", "/markets/search/", "/strategies/",
                                  "/strategies/instruments/"])
def test_a_search_with_a_nul_character_is_not_a_server_error(client, user, path):
    # PostgreSQL refuses NUL inside a string literal: it was a 500 there (SQLite took it)
    client.force_login(user)
    response = client.get(path, {"q": "삼성\x00전자"})
    assert response.status_code == 200
    if path.startswith("/markets") or path.endswith("instruments/"):
        assert "005930" in response.content.decode()
