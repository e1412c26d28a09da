"""Which instruments have bars, and for which days: from the snapshot index, shown in search and the API."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from marketdata import selectors
from marketdata.store import BarStore
from marketdata.tests.test_pages_api import BARS_CSV, SAMSUNG_LAST_DAY, _read_csv, instruments, store  # noqa: F401

pytestmark = pytest.mark.django_db
SAMSUNG_FIRST_DAY = dt.date(2000, 1, 4)


@pytest.fixture
def samsung(store, instruments):  # noqa: F811
    store.write("005930", "KOSPI", **_read_csv(BARS_CSV))
    return store


def _days(first: str, count: int) -> dict:
    days = np.arange(np.datetime64(first), np.datetime64(first) + count)
    prices = np.full(count, 100.0)
    return {"date": days, "open": prices, "high": prices, "low": prices, "close": prices, "volume": prices}


def test_spans_say_first_and_last_day_and_rows_per_code(tmp_path):
    store = BarStore(tmp_path, fsync=False)
    store.write("AAA", "KOSPI", **_days("2024-01-01", 10))
    store.write("KRW-BTC", "CRYPTO", **_days("2023-05-01", 3))
    spans = store.spans()
    assert set(spans) == {"AAA", "KRW-BTC"}
    assert (spans["AAA"].first, spans["AAA"].last, spans["AAA"].rows) == (dt.date(2024, 1, 1), dt.date(2024, 1, 10), 10)
    assert spans["KRW-BTC"].market == "CRYPTO" and spans["KRW-BTC"].last == dt.date(2023, 5, 3)


def test_spans_follow_writes_and_deletes(tmp_path):
    store = BarStore(tmp_path, fsync=False)
    store.write("AAA", "KOSPI", **_days("2024-01-01", 10))
    assert store.spans()["AAA"].rows == 10
    store.write("AAA", "KOSPI", **_days("2024-01-11", 5))
    assert store.spans()["AAA"].last == dt.date(2024, 1, 15)
    store.delete("AAA")
    assert store.spans() == {}


def test_spans_read_no_bar_file_once_the_snapshot_is_built(tmp_path, monkeypatch):
    store = BarStore(tmp_path, fsync=False)
    store.write("AAA", "KOSPI", **_days("2024-01-01", 10))
    store.spans()

    def refuse(*args, **kwargs):
        raise AssertionError("a bar file was read")

    monkeypatch.setattr("marketdata.store.pq.read_table", refuse)
    monkeypatch.setattr("marketdata.store.pq.read_metadata", refuse)
    assert BarStore(tmp_path).spans()["AAA"].rows == 10


def test_a_few_writes_after_the_snapshot_are_read_from_their_files_without_a_rebuild(tmp_path, monkeypatch):
    store = BarStore(tmp_path, fsync=False)
    for code in ("AAA", "BBB", "CCC"):
        store.write(code, "KOSPI", **_days("2024-01-01", 10))
    store.spans()  # builds the snapshot
    store.write("AAA", "KOSPI", **_days("2024-01-11", 5))
    store.write("DDD", "KOSPI", **_days("2024-02-01", 2))
    store.delete("BBB")

    def refuse(*args, **kwargs):
        raise AssertionError("the snapshot was rebuilt")

    monkeypatch.setattr(BarStore, "rebuild_snapshot", refuse)
    monkeypatch.setattr("marketdata.store._SPANS", {})  # a new process: only the stale snapshot on disk
    spans = BarStore(tmp_path).spans()
    assert set(spans) == {"AAA", "CCC", "DDD"}
    assert (spans["AAA"].last, spans["AAA"].rows) == (dt.date(2024, 1, 15), 15)
    assert spans["DDD"].first == dt.date(2024, 2, 1)


def test_an_empty_store_has_no_spans(tmp_path):
    assert BarStore(tmp_path / "nothing").spans() == {}


def test_the_last_data_date_of_some_codes_or_of_all(samsung):
    samsung.write("KRW-BTC", "CRYPTO", **_days("2023-05-01", 3))
    assert selectors.last_data_date() == SAMSUNG_LAST_DAY
    assert selectors.last_data_date(codes=["KRW-BTC", "066570"]) == dt.date(2023, 5, 3)
    assert selectors.last_data_date(codes=["066570"]) is None


def test_search_results_say_which_instruments_have_data_and_its_range(client, user, samsung):
    client.force_login(user)
    body = client.get("/markets/search/", {"q": "삼성"}).content.decode()
    samsung_row = body.split('data-code="005930"')[1].split("</tr>")[0]
    assert f'data-first="{SAMSUNG_FIRST_DAY}" data-last="{SAMSUNG_LAST_DAY}"' in samsung_row
    assert "2000-01-04 – 2026-03-17" in samsung_row and "no-data" not in samsung_row
    pref_row = body.split('data-code="005935"')[1].split("</tr>")[0]
    assert 'data-first="" data-last=""' in pref_row and "no-data" in pref_row


def test_the_picker_says_which_instruments_have_data(client, user, samsung):
    client.force_login(user)
    body = client.get("/strategies/instruments/", {"q": "삼성"}).content.decode()
    assert "2000-01-04 – 2026-03-17" in body and 'data-first=""' in body


def test_the_instrument_list_api_gives_each_instruments_data_range(api_client, samsung):
    response = api_client.get("/api/v1/instruments/", {"q": "삼성전자"})
    by_code = {item["code"]: item["data"] for item in response.json()["results"]}
    assert by_code["005930"] == {"first": "2000-01-04", "last": "2026-03-17", "rows": 6458}
    assert by_code["005935"] is None


def test_an_instrument_page_without_bars_says_so_at_the_top(client, user, samsung):
    client.force_login(user)
    def head(code: str) -> str:
        return client.get(f"/markets/{code}/").content.decode().split('class="instrument-head"')[1].split("</header>")[0]

    assert 'data-testid="instrument-data-badge"' in head("005935")
    assert 'data-testid="instrument-data-badge"' not in head("005930")  # its coverage card gives the range
