"""Parse and validate daily bar files (CSV or Parquet) before anything reaches the bar store.

Pure: no Django imports. Files in, numpy arrays or a :class:`BarFileError` listing every
problem out. Services decide what to do with the result (see ``marketdata/services.py``).

Row numbers
    ``row N`` is always the row as a spreadsheet shows it: the header is row 1, so the first
    data row is row 2, and in a CSV file row N is line N (blank lines keep their number).
    A Parquet file is counted the same way (its first record is row 2), and arrays handed to
    :func:`validate_bars` too, so one number means one record however the data arrived.

What a valid file holds
    Columns ``date, open, high, low, close, volume`` and optionally ``value`` (KRW turnover),
    matched case-insensitively, or their Korean names 날짜(일자)/시가/고가/저가/종가/거래량/거래대금.
    Other columns are ignored. Every price is > 0; ``high >= max(open, close)``,
    ``low <= min(open, close)``, ``high >= low``; ``volume >= 0`` (and ``value >= 0`` when
    given); each date appears once. Dates are ``YYYY-MM-DD`` (also ``YYYYMMDD``,
    ``YYYY/MM/DD``, ``YYYY.MM.DD`` or an ISO timestamp whose date part is taken as is).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REQUIRED_COLUMNS = ("date", "open", "high", "low", "close", "volume")
OPTIONAL_COLUMNS = ("value",)
PRICE_COLUMNS = ("open", "high", "low", "close")
NUMBER_COLUMNS = (*PRICE_COLUMNS, "volume", "value")
COLUMN_ALIASES = {
    "날짜": "date",
    "일자": "date",
    "시가": "open",
    "고가": "high",
    "저가": "low",
    "종가": "close",
    "거래량": "volume",
    "거래대금": "value",
}
BAR_FILE_SUFFIXES = (".csv", ".parquet")
MAX_LISTED_PROBLEMS = 20
FIRST_DATA_ROW = 2  # row 1 is the header

UNKNOWN_CODE = "unknown instrument code {code}; import the instrument master first"
NOT_A_CODE = "'{code}' is not an instrument code; name the file after the code or pass the code explicitly"
NOT_UTF8 = "is not UTF-8 text ({reason} at byte {start}); save it as UTF-8"

# 005930, 0001A0, Q520057, KRW-BTC: letters, digits and dashes, at most 20 characters.
CODE_PATTERN = re.compile(r"^[0-9A-Z][0-9A-Z\-]{0,19}$")
_DATE_PATTERN = re.compile(r"^(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})(?:[T ].*)?$")


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with a data file. ``row`` is None for a problem of the whole file."""

    path: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.row is None else f"{self.path} row {self.row}"
        return f"{where}: {self.message}"


class DataFileError(Exception):
    """A data file (or several) cannot be imported; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        super().__init__(format_problems(self.problems))


class BarFileError(DataFileError):
    """A bar file cannot be imported as it is; ``problems`` lists every reason."""


def format_problems(problems: Sequence[RowProblem], limit: int = MAX_LISTED_PROBLEMS) -> str:
    """One heading line, then the first ``limit`` problems, then "... and N more"."""
    files = list(dict.fromkeys(problem.path for problem in problems))
    noun = "problem" if len(problems) == 1 else "problems"
    place = files[0] if len(files) == 1 else f"{len(files)} files"
    lines = [f"{len(problems)} {noun} in {place}:"]
    lines += [f"  {problem}" for problem in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)


@dataclass
class ParsedBars:
    """Valid rows of one bar file, sorted by date, and the rows dropped on the way.

    ``rows`` maps ``date`` (datetime64[D]) and ``open, high, low, close, volume, value``
    (float64; ``value`` is NaN where unknown) to arrays of equal length.
    """

    code: str
    path: str
    rows: dict[str, np.ndarray]
    skipped: list[RowProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows["date"])


def find_bar_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (not recursively) into the ``*.csv``/``*.parquet`` files to read.

    Raises BarFileError naming every path that does not exist, is not a bar file, or is a
    folder without bar files. Keeps the given order; files inside a folder are sorted.
    """
    found: list[Path] = []
    problems: list[RowProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in BAR_FILE_SUFFIXES)
            if not inside:
                problems.append(RowProblem(str(raw), None, None, "folder holds no .csv or .parquet files"))
            found.extend(inside)
        elif not path.exists():
            problems.append(RowProblem(str(raw), None, None, "no such file or folder"))
        elif path.suffix.lower() not in BAR_FILE_SUFFIXES:
            problems.append(RowProblem(str(raw), None, None, "is not a .csv or .parquet file"))
        else:
            found.append(path)
    if problems:
        raise BarFileError(problems)
    return list(dict.fromkeys(found))


def code_from_path(path: str | Path) -> str:
    """The instrument code a bar file is named after: its stem, upper-cased (``krw-btc.csv``)."""
    return Path(path).stem.strip().upper()


def read_bar_file(
    path: str | Path,
    *,
    code: str | None = None,
    skip_bad_rows: bool = False,
    known_codes: Iterable[str] | None = None,
) -> ParsedBars:
    """Read and validate one CSV (UTF-8, with or without BOM) or Parquet bar file.

    ``code`` defaults to the file stem. With ``known_codes``, a code outside it is an error.
    Problems of the whole file (unreadable, missing columns, no rows, bad or unknown code)
    always raise BarFileError. Problems of single rows raise too, all of them at once, unless
    ``skip_bad_rows``: then those rows are dropped and listed in ``ParsedBars.skipped``, one
    entry per row (a repeated date keeps its first row and skips the later ones).
    """
    source = str(path)
    code = (code or code_from_path(path)).strip().upper()
    file_problems: list[RowProblem] = []
    if not CODE_PATTERN.match(code):
        file_problems.append(RowProblem(source, None, None, NOT_A_CODE.format(code=code)))
    elif known_codes is not None and code not in set(known_codes):
        file_problems.append(RowProblem(source, None, None, UNKNOWN_CODE.format(code=code)))
    columns = _read_columns(Path(path), source)
    if not len(columns["date"]):
        file_problems.append(RowProblem(source, None, None, "has no data rows"))
    if file_problems:
        raise BarFileError(file_problems)
    return _validate(source, code, columns, skip_bad_rows=skip_bad_rows)


def validate_bars(
    *, source: str, code: str, rows: Mapping[str, Sequence | np.ndarray], skip_bad_rows: bool = False
) -> ParsedBars:
    """Validate bars that arrived as arrays (e.g. from a data provider) with the file rules.

    ``rows`` holds ``date`` and the numeric columns (``value`` optional). Raises BarFileError
    like :func:`read_bar_file`; ``source`` names the data in messages (``pykrx:005930``).
    """
    missing = [name for name in REQUIRED_COLUMNS if name not in rows]
    if missing:
        raise BarFileError([RowProblem(source, None, None, f"missing columns: {', '.join(missing)}")])
    columns = {name: _as_column(rows[name]) for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in rows}
    if "value" not in columns:
        columns["value"] = np.full(len(columns["date"]), np.nan)
    columns["_row"] = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(columns["date"]))
    return _validate(source, code, columns, skip_bad_rows=skip_bad_rows)


# --- reading ---------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    name = str(name).strip().lstrip("\ufeff")
    return COLUMN_ALIASES.get(name, name.lower())


def _pick_columns(source: str, header: Sequence[str]) -> dict[str, int]:
    """Map each known column to its index in ``header``; raise naming what is missing."""
    positions: dict[str, int] = {}
    repeated: list[str] = []
    for index, name in enumerate(header):
        canonical = _canonical(name)
        if canonical not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            continue
        if canonical in positions:
            repeated.append(canonical)
        positions.setdefault(canonical, index)
    problems = []
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        found = ", ".join(str(name).strip() for name in header) or "nothing"
        problems.append(RowProblem(source, None, None, f"missing columns: {', '.join(missing)} (header has: {found})"))
    if repeated:
        problems.append(RowProblem(source, None, None, f"columns appear more than once: {', '.join(repeated)}"))
    if problems:
        raise BarFileError(problems)
    return positions


def _read_columns(path: Path, source: str) -> dict[str, list | np.ndarray]:
    if not path.is_file():
        raise BarFileError([RowProblem(source, None, None, "no such file")])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, source)
    if suffix == ".parquet":
        return _read_parquet(path, source)
    raise BarFileError([RowProblem(source, None, None, "is not a .csv or .parquet file")])


def _read_csv(path: Path, source: str) -> dict[str, list | np.ndarray]:
    """Column name -> list of raw strings, plus ``_row``: each record's line number."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            positions = _pick_columns(source, header)
            width = max(positions.values()) + 1
            records: list[list[str]] = []
            rows: list[int] = []
            for record in reader:
                if not record:  # a blank line
                    continue
                if len(record) < width:
                    record += [""] * (width - len(record))
                records.append(record)
                rows.append(reader.line_num)
            columns = {name: [record[index] for record in records] for name, index in positions.items()}
    except UnicodeDecodeError as exc:
        message = NOT_UTF8.format(reason=exc.reason, start=exc.start)
        raise BarFileError([RowProblem(source, None, None, message)]) from exc
    except csv.Error as exc:
        raise BarFileError([RowProblem(source, None, None, f"is not a readable CSV file: {exc}")]) from exc
    result: dict[str, list | np.ndarray] = dict(columns)
    result["_row"] = np.asarray(rows, dtype=np.int64)
    return result


def _read_parquet(path: Path, source: str) -> dict[str, list | np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise BarFileError([RowProblem(source, None, None, f"is not a readable Parquet file: {exc}")]) from exc
    positions = _pick_columns(source, table.column_names)
    columns: dict[str, list | np.ndarray] = {}
    for name, index in positions.items():
        column = table.column(index).combine_chunks() if table.num_rows else table.column(index)
        kind = column.type
        if name == "date" and pa.types.is_timestamp(kind):
            column = pc.local_timestamp(column) if kind.tz else column  # the date where it was stamped
            columns[name] = column.cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
        elif name == "date" and pa.types.is_date(kind):
            columns[name] = column.cast(pa.date32()).to_numpy(zero_copy_only=False).astype("datetime64[D]")
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            columns[name] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        else:
            columns[name] = ["" if value is None else str(value) for value in column.to_pylist()]
    columns["_row"] = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + table.num_rows)
    return columns


def _as_column(values: Sequence | np.ndarray) -> list | np.ndarray:
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[D]")
    if np.issubdtype(array.dtype, np.number):
        return array.astype(np.float64)
    return [("" if value is None else str(value)) for value in values]


# --- converting ------------------------------------------------------------------------------


def _parse_dates(values: list | np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """Dates as datetime64[D] (NaT where bad) and index -> message for each bad value."""
    if isinstance(values, np.ndarray):
        bad = {int(i): "date is empty" for i in np.flatnonzero(np.isnat(values))}
        return values, bad
    texts = [str(value).strip() for value in values]
    if texts and all(len(text) == 10 and text[4] == "-" and text[7] == "-" for text in texts):
        try:  # fast path for clean ISO dates; numpy would also accept "2024-01" so guard above
            return np.array(texts, dtype="datetime64[D]"), {}
        except ValueError:
            pass
    dates = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[D]")
    bad: dict[int, str] = {}
    for index, text in enumerate(texts):
        match = _DATE_PATTERN.match(text)
        try:
            if not match:
                raise ValueError(text)
            dates[index] = np.datetime64("-".join(match.groups()), "D")
        except ValueError:
            bad[index] = "date is empty" if not text else f"date '{text}' is not a date (expected YYYY-MM-DD)"
    return dates, bad


def _parse_numbers(name: str, values: list | np.ndarray, *, optional: bool) -> tuple[np.ndarray, dict[int, str]]:
    """Floats (NaN where bad or empty) and index -> message for each bad value."""
    if isinstance(values, np.ndarray):
        numbers = values.astype(np.float64)
        if optional:
            infinite = np.flatnonzero(np.isinf(numbers))
            return numbers, {int(i): f"{name} {_fmt(numbers[i])} is not a finite number" for i in infinite}
        return numbers, {int(i): _number_message(name, numbers[i]) for i in np.flatnonzero(~np.isfinite(numbers))}
    try:  # fast path: every cell a plain number
        numbers = np.array(values, dtype=np.float64)
        if np.isfinite(numbers).all():
            return numbers, {}
    except ValueError:
        pass
    numbers = np.full(len(values), np.nan)
    bad: dict[int, str] = {}
    for index, raw in enumerate(values):
        text = str(raw).strip().replace(",", "")  # "76,700" as spreadsheets write it
        if not text:
            if not optional:
                bad[index] = f"{name} is empty"
            continue
        try:
            number = float(text)
        except ValueError:
            bad[index] = f"{name} '{str(raw).strip()}' is not a number"
            continue
        if math.isfinite(number):
            numbers[index] = number
        else:
            bad[index] = f"{name} '{str(raw).strip()}' is not a finite number"
    return numbers, bad


def _number_message(name: str, number: float) -> str:
    return f"{name} is empty" if math.isnan(number) else f"{name} {_fmt(number)} is not a finite number"


def _fmt(number: float) -> str:
    """100 for 100.0, 0.5 for 0.5: what the file most likely said."""
    number = float(number)
    return str(int(number)) if number.is_integer() else repr(number)


# --- checking --------------------------------------------------------------------------------


def _validate(source: str, code: str, columns: Mapping[str, list | np.ndarray], *, skip_bad_rows: bool) -> ParsedBars:
    row_numbers = np.asarray(columns["_row"])
    count = len(row_numbers)
    problems: dict[int, list[tuple[str, str]]] = {}

    def note(index: int, column: str, message: str) -> None:
        problems.setdefault(int(index), []).append((column, message))

    dates, bad = _parse_dates(columns["date"])
    for index, message in bad.items():
        note(index, "date", message)
    arrays: dict[str, np.ndarray] = {"date": dates}
    for name in NUMBER_COLUMNS:
        if name not in columns:
            arrays[name] = np.full(count, np.nan)
            continue
        arrays[name], bad = _parse_numbers(name, columns[name], optional=name in OPTIONAL_COLUMNS)
        for index, message in bad.items():
            note(index, name, message)

    _check_values(arrays, note)
    _check_repeated_dates(dates, row_numbers, problems, note)

    found = [
        RowProblem(source, int(row_numbers[index]), notes[0][0], "; ".join(message for _, message in notes))
        for index, notes in sorted(problems.items())
    ]
    if found and not skip_bad_rows:
        raise BarFileError(found)
    keep = np.ones(count, dtype=bool)
    keep[np.fromiter(problems, dtype=np.int64, count=len(problems))] = False
    order = np.argsort(dates[keep], kind="stable")
    rows = {name: array[keep][order] for name, array in arrays.items()}
    return ParsedBars(code=code, path=source, rows=rows, skipped=found)


def _check_values(arrays: Mapping[str, np.ndarray], note) -> None:
    """Prices > 0, high/low enclose open/close and each other, volume and value >= 0.

    Comparisons with NaN are false, so a cell already reported as unreadable adds nothing here.
    """
    for name in PRICE_COLUMNS:
        for index in np.flatnonzero(arrays[name] <= 0):
            note(index, name, f"{name} {_fmt(arrays[name][index])} is not positive")
    # Ordering is only worth reporting between prices that are themselves valid.
    positive = np.logical_and.reduce([arrays[name] > 0 for name in PRICE_COLUMNS])
    high, low = arrays["high"], arrays["low"]
    for other in ("open", "close"):
        for index in np.flatnonzero(positive & (high < arrays[other])):
            note(index, "high", f"high {_fmt(high[index])} is below {other} {_fmt(arrays[other][index])}")
    for other in ("open", "close"):
        for index in np.flatnonzero(positive & (low > arrays[other])):
            note(index, "low", f"low {_fmt(low[index])} is above {other} {_fmt(arrays[other][index])}")
    for index in np.flatnonzero(positive & (high < low)):
        note(index, "high", f"high {_fmt(high[index])} is below low {_fmt(low[index])}")
    for name in ("volume", "value"):
        for index in np.flatnonzero(arrays[name] < 0):
            note(index, name, f"{name} {_fmt(arrays[name][index])} is negative")


def _check_repeated_dates(dates: np.ndarray, row_numbers: np.ndarray, problems: Mapping, note) -> None:
    """A date already on an earlier row without other problems makes the later row a problem.

    Only rows that are otherwise valid count as "earlier": if the first copy of a date is bad,
    a later good copy is kept when bad rows are skipped.
    """
    usable = ~np.isnat(dates)
    usable[np.fromiter(problems, dtype=np.int64, count=len(problems))] = False
    candidates = np.flatnonzero(usable)
    if len(candidates) < 2:
        return
    order = candidates[np.argsort(dates[candidates], kind="stable")]
    sorted_dates = dates[order]
    repeats = np.flatnonzero(sorted_dates[1:] == sorted_dates[:-1]) + 1
    first_of: dict[np.datetime64, int] = {}
    for position in repeats:
        day = sorted_dates[position]
        first = first_of.setdefault(day, int(order[position - 1]))
        note(order[position], "date", f"duplicate date {day}, already on row {int(row_numbers[first])}")
