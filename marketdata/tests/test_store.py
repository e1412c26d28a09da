"""The Parquet bar store: round trips, merging, ranges, coverage, atomicity, concurrency, snapshots."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pyarrow.parquet as pq
import pytest

from marketdata import store as store_module
from marketdata.store import BarSet, BarStore


def make_bars(start: str, n: int, *, step: int = 1, base: float = 100.0) -> dict[str, np.ndarray]:
    date = np.datetime64(start, "D") + np.arange(n) * step
    close = base + np.arange(n, dtype=np.float64)
    return {
        "date": date,
        "open": close - 1,
        "high": close + 2,
        "low": close - 2,
        "close": close,
        "volume": np.full(n, 1000.0),
        "value": close * 1000,
    }


@pytest.fixture
def bar_store(tmp_path) -> BarStore:
    return BarStore(tmp_path / "store", fsync=False)


def put(bar_store: BarStore, code: str, market: str, bars: dict[str, np.ndarray]):
    return bar_store.write(code, market, **bars)


def test_round_trip_keeps_every_column(bar_store):
    bars = make_bars("2024-01-01", 10)
    result = put(bar_store, "005930", "KOSPI", bars)
    assert (result.rows_added, result.rows_replaced, result.rows_total) == (10, 0, 10)
    read = bar_store.read_one("005930")
    assert read.codes == ["005930"] and len(read) == 10
    for name, values in bars.items():
        np.testing.assert_array_equal(getattr(read, name), values)
    assert read.date.dtype == np.dtype("datetime64[D]")


def test_value_is_optional_and_reads_as_none(bar_store):
    bars = make_bars("2024-01-01", 2)
    del bars["value"]
    bar_store.write("005930", "KOSPI", **bars)
    rows = bar_store.read_one("005930").to_rows("005930")
    assert rows[0] == {"date": "2024-01-01", "open": 99.0, "high": 102.0, "low": 98.0, "close": 100.0,
                       "volume": 1000.0, "value": None}


def test_rewriting_overlapping_dates_replaces_and_does_not_duplicate(bar_store):
    put(bar_store, "005930", "KOSPI", make_bars("2024-01-01", 10))
    result = put(bar_store, "005930", "KOSPI", make_bars("2024-01-06", 10, base=500.0))
    assert (result.rows_added, result.rows_replaced, result.rows_total) == (5, 5, 15)
    read = bar_store.read_one("005930")
    assert len(np.unique(read.date)) == 15
    np.testing.assert_array_equal(read.close[:5], [100, 101, 102, 103, 104])
    np.testing.assert_array_equal(read.close[5:], 500 + np.arange(10))


def test_append_and_unsorted_input_come_back_sorted(bar_store):
    put(bar_store, "005930", "KOSPI", make_bars("2024-01-01", 5))
    later = make_bars("2024-01-06", 5)
    shuffled = {name: values[::-1] for name, values in later.items()}
    result = put(bar_store, "005930", "KOSPI", shuffled)
    assert (result.rows_added, result.rows_total) == (5, 10)
    read = bar_store.read_one("005930")
    assert (np.diff(read.date.astype(np.int64)) == 1).all()
    np.testing.assert_array_equal(read.close, 100 + np.r_[np.arange(5), np.arange(5)])


def test_write_rejects_malformed_input(bar_store):
    bars = make_bars("2024-01-01", 3)
    with pytest.raises(ValueError, match="close has 2 values"):
        bar_store.write("005930", "KOSPI", **{**bars, "close": bars["close"][:2]})
    with pytest.raises(ValueError, match="more than once"):
        bar_store.write("005930", "KOSPI", **{**bars, "date": np.array(["2024-01-01"] * 3, "datetime64[D]")})
    with pytest.raises(ValueError, match="invalid instrument code"):
        bar_store.write("../etc", "KOSPI", **bars)
    with pytest.raises(ValueError, match="invalid market"):
        bar_store.write("005930", "kospi", **bars)
    assert bar_store.codes() == []


def test_date_range_reads_are_inclusive(bar_store):
    put(bar_store, "005930", "KOSPI", make_bars("2024-01-01", 31))
    read = bar_store.read_one("005930", start=dt.date(2024, 1, 10), end="2024-01-12")
    np.testing.assert_array_equal(read.date, np.array(["2024-01-10", "2024-01-11", "2024-01-12"], "datetime64[D]"))
    assert len(bar_store.read_one("005930", start="2025-01-01")) == 0
    assert len(bar_store.read_one("999999")) == 0


def fill_store(bar_store: BarStore) -> None:
    put(bar_store, "005930", "KOSPI", make_bars("2024-01-01", 10))
    put(bar_store, "000660", "KOSPI", make_bars("2024-01-05", 3, base=200))
    put(bar_store, "035720", "KOSDAQ", make_bars("2024-01-03", 4, base=300))
    put(bar_store, "KRW-BTC", "CRYPTO", make_bars("2024-01-01", 6, base=9e7))


def assert_offsets_match(bars: BarSet) -> None:
    assert bars.offsets[0] == 0 and bars.offsets[-1] == len(bars) and len(bars.offsets) == len(bars.codes) + 1
    for code in bars.codes:
        one = bars.slice(code)
        assert (np.diff(one.date.astype(np.int64)) > 0).all()


def test_universe_read_orders_by_market_then_code_with_correct_offsets(bar_store):
    fill_store(bar_store)
    universe = bar_store.read()
    assert universe.codes == ["KRW-BTC", "035720", "000660", "005930"]  # CRYPTO, KOSDAQ, KOSPI
    np.testing.assert_array_equal(universe.offsets, [0, 6, 10, 13, 23])
    assert_offsets_match(universe)
    np.testing.assert_array_equal(universe.slice("000660").close, [200, 201, 202])
    np.testing.assert_array_equal(universe.slice("005930").close, bar_store.read_one("005930").close)


def test_market_and_code_reads(bar_store):
    fill_store(bar_store)
    kospi = bar_store.read(market="KOSPI")
    assert kospi.codes == ["000660", "005930"] and len(kospi) == 13
    picked = bar_store.read(["005930", "nope", "035720"], start="2024-01-04", end="2024-01-05")
    assert picked.codes == ["005930", "nope", "035720"]
    np.testing.assert_array_equal(picked.offsets, [0, 2, 2, 4])
    only_kospi = bar_store.read(["005930", "035720"], market="KOSPI")
    np.testing.assert_array_equal(only_kospi.offsets, [0, 10, 10])
    ranged = bar_store.read(start="2024-01-06", end="2024-01-06")
    assert_offsets_match(ranged)
    assert dict(zip(ranged.codes, np.diff(ranged.offsets))) == {"KRW-BTC": 1, "035720": 1, "000660": 1, "005930": 1}


def test_many_codes_go_through_the_snapshot_with_the_same_answer(bar_store, monkeypatch):
    fill_store(bar_store)
    codes = ["005930", "035720", "000660"]
    by_file = bar_store.read(codes, start="2024-01-04")
    monkeypatch.setattr(store_module, "PER_FILE_READ_LIMIT", 0)
    by_snapshot = bar_store.read(codes, start="2024-01-04")
    assert by_snapshot.codes == by_file.codes
    for name, column in by_file.columns().items():
        np.testing.assert_array_equal(getattr(by_snapshot, name), column)
    np.testing.assert_array_equal(by_snapshot.offsets, by_file.offsets)


def test_coverage_counts_gaps_by_market(bar_store):
    stock = make_bars("2024-01-01", 6)
    stock["date"] = np.array(["2024-01-01", "2024-01-02", "2024-01-06", "2024-01-12", "2024-01-13", "2024-01-20"],
                             "datetime64[D]")  # missing runs: 3 (ok), 5 (gap), 0, 6 (gap)
    put(bar_store, "005930", "KOSPI", stock)
    crypto = make_bars("2024-01-01", 4)
    crypto["date"] = np.array(["2024-01-01", "2024-01-03", "2024-01-06", "2024-01-07"], "datetime64[D]")
    put(bar_store, "KRW-BTC", "CRYPTO", crypto)  # missing runs: 1 (ok), 2 (gap), 0
    found = {c.code: c for c in bar_store.coverage()}
    assert found["005930"].gaps == 2 and found["005930"].rows == 6 and found["005930"].market == "KOSPI"
    assert found["005930"].first == dt.date(2024, 1, 1) and found["005930"].last == dt.date(2024, 1, 20)
    assert found["KRW-BTC"].gaps == 1 and found["KRW-BTC"].market == "CRYPTO"
    assert [c.code for c in bar_store.coverage(["KRW-BTC", "missing"])] == ["KRW-BTC"]


def test_a_crash_mid_write_leaves_the_old_file_intact_and_no_temp_file(bar_store, monkeypatch):
    put(bar_store, "005930", "KOSPI", make_bars("2024-01-01", 5))
    real_write = pq.write_table

    def write_half_then_crash(table, where, **kwargs):
        real_write(table.slice(0, 1), where, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(store_module.pq, "write_table", write_half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        put(bar_store, "005930", "KOSPI", make_bars("2024-01-03", 10, base=900))
    monkeypatch.undo()
    folder = bar_store.root / "bars" / "KOSPI"
    assert sorted(p.name for p in folder.iterdir()) == ["005930.parquet"]
    np.testing.assert_array_equal(bar_store.read_one("005930").close, [100, 101, 102, 103, 104])


def test_two_threads_writing_one_code_lose_no_rows(bar_store):
    errors: list[BaseException] = []

    def writer(first_day: str) -> None:
        try:
            for k in range(15):
                day = np.datetime64(first_day, "D") + 2 * k
                bars = make_bars(str(day), 1)
                put(bar_store, "005930", "KOSPI", bars)
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(day,)) for day in ("2024-01-01", "2024-01-02")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    read = bar_store.read_one("005930")
    assert len(read) == 30
    assert (np.diff(read.date.astype(np.int64)) == 1).all()


def test_snapshot_is_rebuilt_after_a_write_and_a_delete(bar_store):
    fill_store(bar_store)
    assert len(bar_store.read(market="KOSPI")) == 13
    put(bar_store, "000660", "KOSPI", make_bars("2024-02-01", 2, base=250))
    put(bar_store, "000270", "KOSPI", make_bars("2024-01-01", 1))
    after = bar_store.read(market="KOSPI")
    assert after.codes == ["000270", "000660", "005930"] and len(after) == 16
    np.testing.assert_array_equal(after.slice("000660").close[-2:], [250, 251])
    assert bar_store.delete("000660") is True and bar_store.delete("000660") is False
    assert bar_store.read(market="KOSPI").codes == ["000270", "005930"]
    assert bar_store.codes() == ["000270", "005930", "035720", "KRW-BTC"]


def test_a_code_written_under_another_market_moves(bar_store):
    put(bar_store, "035720", "KOSDAQ", make_bars("2024-01-01", 3))
    put(bar_store, "035720", "KOSPI", make_bars("2024-01-04", 2))
    assert bar_store.codes("KOSDAQ") == [] and bar_store.codes("KOSPI") == ["035720"]
    assert len(bar_store.read_one("035720")) == 5
    assert bar_store.read(market="KOSDAQ").codes == []


def test_an_empty_write_creates_nothing(bar_store):
    result = bar_store.write("005930", "KOSPI", [], [], [], [], [], [])
    assert result.rows_total == 0 and bar_store.codes() == []


def test_empty_store_reads_are_empty(bar_store):
    assert len(bar_store.read()) == 0 and bar_store.read().codes == []
    assert bar_store.coverage() == []


def test_the_tail_is_what_a_full_read_ends_with_and_follows_every_write(bar_store):
    put(bar_store, "005930", "KOSPI", make_bars("2024-01-01", 40))
    full = bar_store.read_one("005930")
    days = full.date
    for end in [None, days[-1], days[-3], days[-store_module.TAIL_ROWS], days[-store_module.TAIL_ROWS - 1], days[5],
                days[0], np.datetime64("2023-12-01")]:
        for count in (1, 2, 5):
            tail = bar_store.read_tail("005930", end=end, count=count)
            expected = bar_store.read_one("005930", end=end) if end is not None else full
            for name, column in tail.columns().items():
                np.testing.assert_array_equal(column, expected.columns()[name][-count:], err_msg=f"{end} {count} {name}")
            assert list(tail.offsets) == [0, len(tail)]
    assert len(bar_store.read_tail("005930", end="2023-12-01")) == 0

    # a new bar and a corrected close are seen at once, by this store and by a new one on the same root
    new_day = days[-1] + np.timedelta64(1, "D")
    put(bar_store, "005930", "KOSPI", make_bars(str(new_day), 1, base=555.0))
    for store in (bar_store, BarStore(bar_store.root)):
        tail = store.read_tail("005930")
        assert list(tail.date) == [days[-1], new_day] and tail.close[-1] == 555.0
    put(bar_store, "005930", "KOSPI", make_bars(str(new_day), 1, base=556.0))  # same day, same file size
    assert bar_store.read_tail("005930").close[-1] == 556.0
    assert bar_store.delete("005930") and len(bar_store.read_tail("005930")) == 0
    assert len(bar_store.read_tail("000660")) == 0
    with pytest.raises(ValueError):
        bar_store.read_tail("005930", count=store_module.TAIL_ROWS + 1)


def test_a_bulk_load_leaves_every_snapshot_fresh_so_no_reader_rebuilds_one(bar_store, monkeypatch):
    for i in range(store_module.PER_FILE_READ_LIMIT + 6):  # more changed codes than spans read file by file
        put(bar_store, f"{i:06d}", "KOSPI" if i % 2 else "KOSDAQ", make_bars("2024-01-01", 5))
    assert bar_store._open_snapshot("KOSPI", fresh_only=True) is None
    bar_store.refresh_snapshots()
    rebuilt = []
    monkeypatch.setattr(BarStore, "rebuild_snapshot", lambda self, market: rebuilt.append(market))
    spans = bar_store.spans()
    assert len(spans) == store_module.PER_FILE_READ_LIMIT + 6 and rebuilt == []
