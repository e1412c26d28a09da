"""Instrument search, detail and bars: the selectors, the /markets/ pages and the API."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from marketdata import api, selectors
from marketdata.models import Instrument, ListingStatus, Market
from marketdata.store import BarStore

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
BARS_CSV = SAMPLE / "bars" / "005930.csv"
# The last bars of 005930.csv (2026-03-17 and the day before), for checks against the real file.
SAMSUNG_LAST_DAY = dt.date(2026, 3, 17)

pytestmark = pytest.mark.django_db


def _instrument(code: str, name: str, name_en: str = "", market: str = Market.KOSPI, sector: str = "") -> Instrument:
    return Instrument.objects.create(code=code, name=name, name_en=name_en, market=market, sector=sector)


@pytest.fixture
def instruments():
    return {
        "samsung": _instrument("005930", "삼성전자", "Samsung Electronics", sector="통신 및 방송 장비 제조업"),
        "samsung_pref": _instrument("005935", "삼성전자우", "Samsung Electronics Pref"),
        "sdi": _instrument("006400", "삼성SDI", "Samsung SDI", sector="일차전지 및 이차전지 제조업"),
        "lg_elec": _instrument("066570", "LG전자", "LG Electronics"),
        "hynix": _instrument("000660", "SK하이닉스", "SK hynix"),
        # Contains 삼성 but does not start with it; lowest code and a short name, so only the
        # ranking can put it after the prefix matches.
        "new_samsung": _instrument("000010", "신삼성", "Shin Samsung", market=Market.KOSDAQ),
        "btc": _instrument("KRW-BTC", "비트코인", "Bitcoin", market=Market.CRYPTO),
    }


@pytest.fixture
def store(settings, tmp_path) -> BarStore:
    settings.MARKET_DATA_ROOT = tmp_path / "marketdata"
    return BarStore(settings.MARKET_DATA_ROOT)


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {"date": np.array([row["date"] for row in rows], dtype="datetime64[D]")}
    for name in ("open", "high", "low", "close", "volume"):
        columns[name] = np.array([float(row[name]) for row in rows])
    return columns


@pytest.fixture
def samsung_bars(store, instruments) -> dict[str, np.ndarray]:
    columns = _read_csv(BARS_CSV)
    store.write("005930", "KOSPI", **columns)
    return columns


def _codes(instruments) -> list[str]:
    return [instrument.code for instrument in instruments]


# ---------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------
def test_search_finds_a_korean_name_by_substring(instruments):
    codes = _codes(selectors.instrument_search(query="전자"))
    assert set(codes) == {"005930", "005935", "066570"}


def test_search_ranks_prefix_matches_before_substring_matches(instruments):
    codes = _codes(selectors.instrument_search(query="삼성"))
    assert codes[-1] == "000010"  # 신삼성: a substring match, last despite the lowest code
    assert set(codes[:-1]) == {"005930", "005935", "006400"}
    assert codes.index("005930") < codes.index("005935")  # shorter names first within a rank


def test_search_by_code_puts_the_exact_code_first(instruments):
    assert _codes(selectors.instrument_search(query="005930"))[0] == "005930"
    assert _codes(selectors.instrument_search(query="00593")) == ["005930", "005935"]
    assert _codes(selectors.instrument_search(query="krw-btc")) == ["KRW-BTC"]


def test_search_by_english_name_ignores_case(instruments):
    assert _codes(selectors.instrument_search(query="samsung elec")) == ["005930", "005935"]
    assert _codes(selectors.instrument_search(query="HYNIX")) == ["000660"]


def test_search_respects_the_limit_and_an_empty_query_lists_by_code(instruments):
    assert len(selectors.instrument_search(query="삼성", limit=2)) == 2
    assert _codes(selectors.instrument_search(query="  ", limit=3)) == ["000010", "000660", "005930"]


def test_search_over_the_whole_krx_list_takes_one_query(django_assert_num_queries):
    with open(SAMPLE / "instruments_krx.csv", newline="") as handle:
        Instrument.objects.bulk_create(
            Instrument(code=row["code"], name=row["name"], market=row["market"], sector=row["sector"])
            for row in csv.DictReader(handle)
        )
    with django_assert_num_queries(1):
        found = list(selectors.instrument_search(query="삼성"))
    assert found[0].name == "삼성전자" or found[0].name.startswith("삼성")
    assert all(instrument.name.startswith("삼성") for instrument in found[:10])


# ---------------------------------------------------------------------------
# Detail, bars and stats selectors
# ---------------------------------------------------------------------------
def test_instrument_get_raises_a_404_naming_the_code(instruments):
    with pytest.raises(selectors.UnknownInstrument) as caught:
        selectors.instrument_get(code="999999")
    assert caught.value.message == selectors.UNKNOWN_INSTRUMENT.format(code="999999")
    assert "999999" in caught.value.message


def test_stats_come_from_the_stored_bars(samsung_bars):
    stats = selectors.instrument_stats(code="005930")
    closes, days = samsung_bars["close"], samsung_bars["date"]
    assert stats.first == dt.date(2000, 1, 4)
    assert stats.last == SAMSUNG_LAST_DAY
    assert stats.rows == len(closes) == 6458
    assert stats.last_close == closes[-1]
    year = days > np.datetime64(SAMSUNG_LAST_DAY - dt.timedelta(days=365))
    assert stats.high_52w == samsung_bars["high"][year].max()
    assert stats.low_52w == samsung_bars["low"][year].min()
    base = closes[~year][-1]
    assert stats.return_1y == pytest.approx(closes[-1] / base - 1)
    assert stats.gaps is not None and stats.gaps >= 0


def test_stats_of_an_instrument_without_bars_are_empty(store, instruments):
    stats = selectors.instrument_stats(code="000660")
    assert stats.rows == 0 and stats.last_close is None and stats.return_1y is None


# ---------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, args", [("marketdata:index", []), ("marketdata:search", []), ("marketdata:detail", ["005930"])]
)
def test_pages_require_login(client, instruments, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_search_page_renders_with_an_as_you_type_input(client, user):
    client.force_login(user)
    response = client.get(reverse("marketdata:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'hx-get="/markets/search/"' in html
    assert "input changed delay:150ms" in html
    assert 'data-testid="search-hint"' in html


def test_the_search_partial_lists_matches_with_links(client, user, instruments):
    client.force_login(user)
    response = client.get(reverse("marketdata:search"), {"q": "삼성"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment, not a page
    assert html.index("삼성전자") < html.index("신삼성")
    assert 'href="/markets/005930/"' in html
    assert "통신 및 방송 장비 제조업" in html


def test_the_search_partial_has_an_empty_state(client, user, instruments):
    client.force_login(user)
    response = client.get(reverse("marketdata:search"), {"q": "없는종목"})
    assert 'data-testid="search-empty"' in response.content.decode()


def test_the_search_page_works_without_javascript(client, user, instruments):
    client.force_login(user)
    response = client.get(reverse("marketdata:index"), {"q": "hynix"})
    assert 'href="/markets/000660/"' in response.content.decode()


def test_the_instrument_page_shows_stats_and_the_chart_container(client, user, samsung_bars):
    client.force_login(user)
    response = client.get(reverse("marketdata:detail", args=["005930"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "삼성전자" in html and "Samsung Electronics" in html
    assert 'data-bars-url="/api/v1/instruments/005930/bars/"' in html
    assert "lightweight-charts.standalone.production.js" in html
    assert "js/chart.js" in html
    assert "2000-01-04" in html and "2026-03-17" in html  # coverage card
    assert response.context["nav"] == "markets"


def test_the_instrument_page_reads_the_bars_again_only_when_they_change(client, user, samsung_bars, store,
                                                                          monkeypatch):
    client.force_login(user)
    reads = []
    real = selectors.instrument_stats
    monkeypatch.setattr(selectors, "instrument_stats", lambda *, code: reads.append(code) or real(code=code))
    url = reverse("marketdata:detail", args=["005930"])
    first = client.get(url).context["stats"]
    assert client.get(url).context["stats"] == first and len(reads) <= 1  # 0: kept by an earlier test's visit
    next_day = {name: column[-1:] for name, column in samsung_bars.items()}
    next_day["date"] = next_day["date"] + np.timedelta64(1, "D")
    store.write("005930", "KOSPI", **next_day)  # one more bar
    assert client.get(url).context["stats"].rows == first.rows + 1 and reads[-1] == "005930"


def test_the_instrument_page_without_bars_still_renders(client, user, store, instruments):
    client.force_login(user)
    response = client.get(reverse("marketdata:detail", args=["000660"]))
    assert response.status_code == 200
    assert response.context["stats"].rows == 0


def test_an_unknown_code_gets_a_404_page_naming_it(client, user, instruments):
    client.force_login(user)
    response = client.get(reverse("marketdata:detail", args=["999999"]))
    assert response.status_code == 404
    assert selectors.UNKNOWN_INSTRUMENT.format(code="999999") in response.content.decode()


# ---------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------
def test_api_requires_authentication(anon_api_client, instruments):
    assert anon_api_client.get("/api/v1/instruments/").status_code in (401, 403)
    assert anon_api_client.get("/api/v1/instruments/005930/bars/").status_code in (401, 403)


def test_api_search_is_paginated_and_ranked(api_client, instruments):
    response = api_client.get("/api/v1/instruments/", {"q": "삼성", "page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [row["code"] for row in body["results"]] == ["005930", "005935"]
    assert body["results"][0] == {
        "code": "005930",
        "name": "삼성전자",
        "name_en": "Samsung Electronics",
        "market": "KOSPI",
        "sector": "통신 및 방송 장비 제조업",
        "status": ListingStatus.LISTED,
        "currency": "KRW",
        "data": None,  # no bars stored
    }
    assert body["next"]


def test_api_detail_has_coverage_and_stats(api_client, samsung_bars):
    body = api_client.get("/api/v1/instruments/005930/").json()
    assert body["code"] == "005930" and body["name"] == "삼성전자"
    assert body["coverage"]["first"] == "2000-01-04"
    assert body["coverage"]["last"] == "2026-03-17"
    assert body["coverage"]["rows"] == 6458
    assert body["stats"]["last_close"] == samsung_bars["close"][-1]
    assert set(body["stats"]) == {"last_close", "high_52w", "low_52w", "return_1y"}


@pytest.mark.parametrize("path", ["/api/v1/instruments/999999/", "/api/v1/instruments/999999/bars/"])
def test_api_unknown_code_is_a_404_with_the_message(api_client, instruments, path):
    response = api_client.get(path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["message"] == str(selectors.UNKNOWN_INSTRUMENT).format(code="999999")


def test_api_bars_as_json_within_a_range(api_client, samsung_bars):
    response = api_client.get("/api/v1/instruments/005930/bars/", {"start": "2026-03-02", "end": "2026-03-17"})
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "005930"
    bars = body["bars"]
    assert bars[0]["time"] >= "2026-03-02" and bars[-1]["time"] == "2026-03-17"
    assert [bar["time"] for bar in bars] == sorted(bar["time"] for bar in bars)
    assert set(bars[-1]) == {"time", "open", "high", "low", "close", "volume", "value"}
    assert bars[-1]["close"] == samsung_bars["close"][-1]
    assert bars[-1]["value"] is None  # the CSV had no traded value


def test_api_bars_of_an_instrument_without_bars_is_an_empty_list(api_client, store, instruments):
    response = api_client.get("/api/v1/instruments/000660/bars/")
    assert response.status_code == 200
    assert response.json() == {"code": "000660", "bars": []}


def test_api_bars_as_csv_download(api_client, samsung_bars):
    response = api_client.get("/api/v1/instruments/005930/bars/", {"start": "2026-03-16", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="005930_2026-03-16_last.csv"'
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads the file as UTF-8
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(api.CSV_HEADER) == "date,open,high,low,close,volume,value"
    assert len(lines) == 3
    day, *_, close, volume, value = lines[-1].split(",")
    assert day == "2026-03-17" and float(close) == samsung_bars["close"][-1] and value == ""


@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "2026-13-01"}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026/03/01"}, "end"),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end"),
    ],
)
def test_api_bad_ranges_are_a_400_naming_the_field(api_client, samsung_bars, params, field):
    response = api_client.get("/api/v1/instruments/005930/bars/", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert list(error["fields"]) == [field]


def test_api_end_before_start_says_so(api_client, samsung_bars):
    response = api_client.get("/api/v1/instruments/005930/bars/", {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.json()["error"]["fields"] == {"end": [str(api.END_BEFORE_START)]}


def test_api_errors_stay_json_when_csv_was_asked_for(api_client, samsung_bars):
    response = api_client.get("/api/v1/instruments/005930/bars/", {"start": "nope", "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "Content-Disposition" not in response
    assert response.json()["error"]["fields"].keys() == {"start"}
