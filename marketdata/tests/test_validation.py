"""marketdata.validation: parsing and checking bar files (pure, no database)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from marketdata.validation import (
    BarFileError,
    RowProblem,
    find_bar_files,
    read_bar_file,
    validate_bars,
)

SAMPLE_BARS = Path(__file__).resolve().parent.parent / "sample_data" / "bars"
HEADER = "date,open,high,low,close,volume\n"
GOOD_ROWS = "2024-01-02,100,110,90,105,1000\n2024-01-03,105,115,100,110,2000\n"


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_text(text, encoding=encoding)
    return path


def problems_of(path: Path, **kwargs) -> list[str]:
    with pytest.raises(BarFileError) as caught:
        read_bar_file(path, **kwargs)
    return [str(problem) for problem in caught.value.problems]


def test_it_reads_a_real_sample_file():
    bars = read_bar_file(SAMPLE_BARS / "005930.csv")

    assert bars.code == "005930"
    assert len(bars) == 6458
    assert bars.rows["date"][0] == np.datetime64("2000-01-04")
    assert bars.rows["date"].dtype == np.dtype("datetime64[D]")
    assert bars.rows["close"][-1] > 0
    assert np.isnan(bars.rows["value"]).all()
    assert bars.skipped == []


def test_it_keeps_fractional_crypto_volumes():
    bars = read_bar_file(SAMPLE_BARS / "KRW-BTC.csv")

    assert bars.code == "KRW-BTC"
    assert bars.rows["volume"][0] == pytest.approx(5752.49421559)


def test_it_sorts_rows_by_date_and_reads_value(tmp_path):
    path = write(
        tmp_path,
        "005930.csv",
        "Date,Open,High,Low,Close,Volume,Value,Note\n"
        "2024-01-03,105,115,100,110,2000,220000,x\n"
        "2024-01-02,100,110,90,105,1000,,y\n",
    )

    bars = read_bar_file(path)

    assert bars.rows["date"].tolist() == [np.datetime64("2024-01-02"), np.datetime64("2024-01-03")]
    assert bars.rows["close"].tolist() == [105.0, 110.0]
    assert np.isnan(bars.rows["value"][0]) and bars.rows["value"][1] == 220000.0


def test_it_accepts_korean_headers_and_a_bom(tmp_path):
    path = write(
        tmp_path,
        "005930.csv",
        "날짜,시가,고가,저가,종가,거래량,거래대금\n2024-01-02,\"76,700\",\"76,900\",\"70,200\",\"71,400\",54608790,1\n",
        encoding="utf-8-sig",
    )

    bars = read_bar_file(path)

    assert bars.rows["open"][0] == 76700.0
    assert bars.rows["close"][0] == 71400.0
    assert bars.rows["value"][0] == 1.0


def test_it_accepts_compact_and_dotted_dates(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "20240102,100,110,90,105,1\n2024.01.03,100,110,90,105,1\n")

    assert read_bar_file(path).rows["date"].astype(str).tolist() == ["2024-01-02", "2024-01-03"]


def test_it_takes_the_code_from_the_argument_over_the_file_name(tmp_path):
    path = write(tmp_path, "samsung.csv", HEADER + GOOD_ROWS)

    assert read_bar_file(path, code="005930").code == "005930"


def test_it_reads_parquet_with_real_dates(tmp_path):
    table = pa.table({
        "date": pa.array([date(2024, 1, 3), date(2024, 1, 2)], type=pa.date32()),
        "open": [105, 100], "high": [115, 110], "low": [100, 90], "close": [110, 105], "volume": [2000, 1000],
    })
    pq.write_table(table, tmp_path / "000660.parquet")

    bars = read_bar_file(tmp_path / "000660.parquet")

    assert bars.code == "000660"
    assert bars.rows["date"].astype(str).tolist() == ["2024-01-02", "2024-01-03"]
    assert bars.rows["volume"].tolist() == [1000.0, 2000.0]


def test_it_reads_parquet_with_text_dates_and_reports_rows_like_csv(tmp_path):
    table = pa.table({
        "date": ["2024-01-02", "2024-01-03"], "open": [100.0, 105.0], "high": [110.0, 100.0],
        "low": [90.0, 100.0], "close": [105.0, 110.0], "volume": [1000.0, 2000.0],
    })
    path = tmp_path / "000660.parquet"
    pq.write_table(table, path)

    assert problems_of(path) == [
        f"{path} row 3: high 100 is below open 105; high 100 is below close 110",
    ]


def test_it_names_the_missing_columns(tmp_path):
    path = write(tmp_path, "005930.csv", "date,open,close,volume\n2024-01-02,100,105,1000\n")

    assert problems_of(path) == [f"{path}: missing columns: high, low (header has: date, open, close, volume)"]


def test_it_shows_an_unparsable_date(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + GOOD_ROWS + "2024-02-30,100,110,90,105,1000\n")

    assert problems_of(path) == [f"{path} row 4: date '2024-02-30' is not a date (expected YYYY-MM-DD)"]


def test_it_refuses_non_positive_prices(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-02,0,110,90,105,1000\n2024-01-03,100,110,-5,105,1000\n")

    assert problems_of(path) == [
        f"{path} row 2: open 0 is not positive",
        f"{path} row 3: low -5 is not positive",
    ]


def test_it_refuses_a_high_below_open_or_close(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-02,100,100,90,120,1000\n2024-01-03,120,110,90,100,1000\n")

    assert problems_of(path) == [
        f"{path} row 2: high 100 is below close 120",
        f"{path} row 3: high 110 is below open 120",
    ]


def test_it_refuses_a_low_above_open_or_close(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-02,100,130,101,120,1000\n2024-01-03,120,130,110,100,1000\n")

    assert problems_of(path) == [
        f"{path} row 2: low 101 is above open 100",
        f"{path} row 3: low 110 is above close 100",
    ]


def test_it_refuses_a_high_below_the_low(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-02,100,90,110,100,1000\n")

    assert problems_of(path) == [
        f"{path} row 2: high 90 is below open 100; high 90 is below close 100; "
        "low 110 is above open 100; low 110 is above close 100; high 90 is below low 110"
    ]


def test_it_refuses_negative_volume_and_unreadable_numbers(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-02,100,110,90,105,-1\n2024-01-03,100,110,90,abc,\n")

    assert problems_of(path) == [
        f"{path} row 2: volume -1 is negative",
        f"{path} row 3: close 'abc' is not a number; volume is empty",
    ]


def test_it_names_both_rows_of_a_duplicate_date(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + GOOD_ROWS + "2024-01-02,101,111,91,106,1000\n")

    assert problems_of(path) == [f"{path} row 4: duplicate date 2024-01-02, already on row 2"]


def test_it_refuses_an_unknown_code(tmp_path):
    path = write(tmp_path, "999999.csv", HEADER + GOOD_ROWS)

    assert problems_of(path, known_codes={"005930"}) == [
        f"{path}: unknown instrument code 999999; import the instrument master first"
    ]


def test_it_refuses_a_file_name_that_is_not_a_code(tmp_path):
    path = write(tmp_path, "my prices.csv", HEADER + GOOD_ROWS)

    assert problems_of(path) == [
        f"{path}: 'MY PRICES' is not an instrument code; name the file after the code or pass the code explicitly"
    ]


def test_it_refuses_text_that_is_not_utf8(tmp_path):
    path = write(tmp_path, "005930.csv", "날짜,시가,고가,저가,종가,거래량\n", encoding="cp949")

    [problem] = problems_of(path)
    assert problem.startswith(f"{path}: is not UTF-8 text")


def test_it_refuses_a_file_without_rows(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER)

    assert problems_of(path) == [f"{path}: has no data rows"]


def test_row_numbers_are_file_lines_even_across_blank_lines(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-02,100,110,90,105,1000\n\n2024-01-03,100,90,80,85,1000\n")

    assert problems_of(path) == [f"{path} row 4: high 90 is below open 100"]


def test_it_lists_the_first_twenty_problems_and_counts_the_rest(tmp_path):
    rows = "".join(f"2024-02-{day:02d},100,110,90,105,-1\n" for day in range(1, 26))
    path = write(tmp_path, "005930.csv", HEADER + rows)

    with pytest.raises(BarFileError) as caught:
        read_bar_file(path)

    assert len(caught.value.problems) == 25
    lines = str(caught.value).splitlines()
    assert lines[0] == f"25 problems in {path}:"
    assert len(lines) == 22
    assert lines[-1] == "  ... and 5 more"


def test_skipping_bad_rows_keeps_the_good_ones_and_the_first_of_a_repeated_date(tmp_path):
    path = write(
        tmp_path,
        "005930.csv",
        HEADER + GOOD_ROWS + "2024-01-02,1,1,1,1,1\n2024-01-04,100,90,95,105,1\n2024-01-05,100,110,90,105,1\n",
    )

    bars = read_bar_file(path, skip_bad_rows=True)

    assert bars.rows["date"].astype(str).tolist() == ["2024-01-02", "2024-01-03", "2024-01-05"]
    assert bars.rows["close"][0] == 105.0  # the first 2024-01-02 row, not the later one
    assert bars.skipped == [
        RowProblem(str(path), 4, "date", "duplicate date 2024-01-02, already on row 2"),
        RowProblem(
            str(path), 5, "high", "high 90 is below open 100; high 90 is below close 105; high 90 is below low 95"
        ),
    ]


def test_a_bad_first_copy_of_a_date_lets_the_good_later_copy_through_when_skipping(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-02,100,90,90,105,1\n2024-01-02,100,110,90,105,1\n")

    bars = read_bar_file(path, skip_bad_rows=True)

    assert len(bars) == 1 and bars.rows["high"][0] == 110.0
    assert [problem.row for problem in bars.skipped] == [2]


def test_skipping_does_not_hide_problems_of_the_whole_file(tmp_path):
    path = write(tmp_path, "005930.csv", "date,open\n2024-01-02,100\n")

    with pytest.raises(BarFileError):
        read_bar_file(path, skip_bad_rows=True)


def test_validate_bars_checks_arrays_with_the_same_rules():
    rows = {
        "date": np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[D]"),
        "open": np.array([100.0, 100.0]), "high": np.array([110.0, 110.0]), "low": np.array([90.0, 90.0]),
        "close": np.array([105.0, np.nan]), "volume": np.array([1.0, 1.0]),
    }

    with pytest.raises(BarFileError) as caught:
        validate_bars(source="pykrx:005930", code="005930", rows=rows)

    assert [str(p) for p in caught.value.problems] == ["pykrx:005930 row 3: close is empty"]
    assert len(validate_bars(source="pykrx:005930", code="005930", rows=rows, skip_bad_rows=True)) == 1


def test_find_bar_files_expands_folders_and_reports_what_is_missing(tmp_path):
    write(tmp_path, "b.csv", HEADER)
    write(tmp_path, "a.parquet", "")
    write(tmp_path, "notes.txt", "")

    assert find_bar_files([tmp_path]) == [tmp_path / "a.parquet", tmp_path / "b.csv"]
    with pytest.raises(BarFileError) as caught:
        find_bar_files([tmp_path / "nope.csv", tmp_path / "notes.txt"])
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path / 'nope.csv'}: no such file or folder",
        f"{tmp_path / 'notes.txt'}: is not a .csv or .parquet file",
    ]


def test_a_timezone_aware_parquet_timestamp_gives_the_local_date(tmp_path):
    stamp = pa.array([datetime(2024, 1, 1, 15, 0, tzinfo=timezone.utc)], type=pa.timestamp("s", tz="Asia/Seoul"))
    table = pa.table({"date": stamp, "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]})
    pq.write_table(table, tmp_path / "KRW-BTC.parquet")

    assert read_bar_file(tmp_path / "KRW-BTC.parquet").rows["date"].astype(str).tolist() == ["2024-01-02"]
