"""Writes of market data: the instrument master (database) and daily bars (the Parquet store).

Every import is all-or-nothing: files are parsed and checked completely before the first write,
and database writes run in one transaction. Problems are reported as
``marketdata.validation.RowProblem`` lists inside a ``DataFileError`` (``BarFileError`` for bars,
``InstrumentFileError`` for instrument masters), so doors can print them one per line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.errors import ApplicationError
from marketdata.models import Instrument, ListingStatus, Market, TickRegime
from marketdata.store import BarStore
from marketdata.validation import (
    NOT_UTF8,
    UNKNOWN_CODE,
    BarFileError,
    DataFileError,
    ParsedBars,
    RowProblem,
    find_bar_files,
    read_bar_file,
    validate_bars,
)

UPSERT_BATCH_SIZE = 500
INSTRUMENT_FIELDS = (
    "name", "name_en", "market", "sector", "status", "listed_on", "suspended_on", "delisted_on",
    "currency", "tick_regime", "lot_size", "min_order_value",
)
SAMPLE_DATA_DIR = Path(__file__).resolve().parent / "sample_data"
# Above this many rows in one import, parsed files are dropped after checking and read again for
# writing, so a whole-market import does not hold every bar in memory at once.
KEEP_PARSED_ROWS = 2_000_000

CRYPTO_PAIRS = (
    ("KRW-BTC", "비트코인", "Bitcoin"),
    ("KRW-ETH", "이더리움", "Ethereum"),
    ("KRW-XRP", "리플", "XRP"),
    ("KRW-SOL", "솔라나", "Solana"),
)
CRYPTO_LOT_SIZE = Decimal("0.00000001")  # Upbit quantities have 8 decimals
CRYPTO_MIN_ORDER_VALUE = Decimal("5000")  # Upbit's KRW market refuses an order below 5,000 KRW

KRX_COLUMNS = ("code", "name", "market", "sector", "listing_date")
OPTIONAL_INSTRUMENT_COLUMNS = ("isin", "sector", "listing_date", "lot_size", "halted")
KIS_COLUMNS = ("code", "isin", "name", "market", "group", "lot_size", "listing_date", "halted")
# The KRX KIND 상장법인목록 export, as downloaded (before any renaming).
KIND_ALIASES = {"종목코드": "code", "회사명": "name", "시장구분": "market", "업종": "sector", "상장일": "listing_date"}
MARKET_ALIASES = {
    "KOSPI": Market.KOSPI, "유가": Market.KOSPI, "유가증권": Market.KOSPI, "유가증권시장": Market.KOSPI,
    "KOSDAQ": Market.KOSDAQ, "코스닥": Market.KOSDAQ, "코스닥시장": Market.KOSDAQ,
    "KONEX": Market.KONEX, "코넥스": Market.KONEX, "코넥스시장": Market.KONEX,
}
# KIS 증권그룹구분코드 -> tick regime. Warrants (SW), subscription rights (SR), beneficiary
# certificates (BC) and listed public funds (PF) are left out: nothing here trades them.
KIS_GROUP_TICKS = {
    "ST": TickRegime.KRX_STOCK, "RT": TickRegime.KRX_STOCK, "IF": TickRegime.KRX_STOCK,
    "MF": TickRegime.KRX_STOCK, "DR": TickRegime.KRX_STOCK, "FS": TickRegime.KRX_STOCK,
    "EF": TickRegime.KRX_ETF, "EN": TickRegime.KRX_ETF,
}
INSTRUMENT_CODE = re.compile(r"^[0-9A-Z]{6,9}$")  # 005930, 0001A0, Q520057 (ETN)

INSTRUMENT_COLUMNS_HELP = (
    "KRX master: code,name,market,sector,listing_date (market KOSPI/KOSDAQ/KONEX, or the KRX KIND "
    "export's 종목코드,회사명,시장구분,업종,상장일). KIS master: code,isin,name,market,group,...,"
    "lot_size,listing_date,halted (group ST/EF/EN/RT/IF/MF/DR/FS imported; halted=Y means suspended). "
    "UTF-8, header row, dates YYYY-MM-DD."
)


PYKRX_UNAVAILABLE = gettext_noop("pykrx could not reach KRX ({reason}). Import a master file with --csv PATH instead.")


class InstrumentFileError(DataFileError):
    """An instrument master file cannot be imported; ``problems`` lists every reason."""


class InstrumentSourceUnavailable(ApplicationError):
    """A remote instrument source (pykrx/KRX) could not be reached or answered nothing."""


@dataclass(frozen=True)
class InstrumentImport:
    created: int
    updated: int
    ignored: int = 0  # rows of kinds we do not import (e.g. KIS warrants)


@dataclass
class ImportSummary:
    """What a bar import did. ``gaps`` counts gaps in the stored series of the imported codes."""

    symbols: list[str] = field(default_factory=list)
    rows: int = 0
    first: date | None = None
    last: date | None = None
    gaps: int = 0
    skipped: list[RowProblem] = field(default_factory=list)
    rows_added: int = 0
    rows_replaced: int = 0


# --- instruments -----------------------------------------------------------------------------


def _record_fields(record: Mapping[str, Any] | Any) -> dict[str, Any]:
    """A dict of model fields; a provider's InstrumentRecord drops blanks so they erase nothing."""
    if is_dataclass(record):
        values = {k: v for k, v in asdict(record).items() if k in ("code", *INSTRUMENT_FIELDS) and v not in ("", None)}
    else:
        values = dict(record)
    unknown = set(values) - {"code", *INSTRUMENT_FIELDS}
    if unknown or "code" not in values:
        raise ValueError(f"instrument record needs 'code' and only model fields; got {sorted(values)}")
    return values


@transaction.atomic
def instrument_upsert_many(*, records: Iterable[Mapping[str, Any] | Any]) -> tuple[int, int]:
    """Create or update instruments by code; returns (created, updated).

    A record updates only the fields it carries (a KIS row without ``sector`` keeps the sector a
    KRX row gave). A code repeated in ``records`` counts once, the last record winning. Runs as
    ``INSERT ... ON CONFLICT (code) DO UPDATE`` in batches of 500 on SQLite and PostgreSQL alike.
    "Updated" counts every existing row touched, changed or not.
    """
    by_code = {values["code"]: values for values in map(_record_fields, records)}
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in by_code.values():
        groups.setdefault(tuple(sorted(values)), []).append(values)
    created = updated = 0
    for keys, group in groups.items():
        update_fields = [name for name in keys if name != "code"] + ["updated_at"]
        for start in range(0, len(group), UPSERT_BATCH_SIZE):
            batch = group[start : start + UPSERT_BATCH_SIZE]
            codes = [values["code"] for values in batch]
            existing = Instrument.objects.filter(code__in=codes).count()
            Instrument.objects.bulk_create(
                [Instrument(**values) for values in batch],
                update_conflicts=True,
                unique_fields=["code"],
                update_fields=update_fields,
            )
            created += len(batch) - existing
            updated += existing
    return created, updated


def instrument_create_missing(*, records: Iterable[Mapping[str, Any] | Any]) -> int:
    """Create the instruments whose code is not in the database yet; never touches existing rows."""
    wanted = {values["code"]: values for values in map(_record_fields, records)}
    existing = set(Instrument.objects.filter(code__in=list(wanted)).values_list("code", flat=True))
    missing = [Instrument(**values) for code, values in wanted.items() if code not in existing]
    Instrument.objects.bulk_create(missing, batch_size=UPSERT_BATCH_SIZE, ignore_conflicts=True)
    return len(missing)


def crypto_instrument_records() -> list[dict[str, Any]]:
    """The KRW pairs we list (Upbit's KRW market: its tick table, 8-decimal quantities)."""
    return [
        {
            "code": code, "name": name, "name_en": name_en, "market": Market.CRYPTO, "currency": "KRW",
            "tick_regime": TickRegime.UPBIT_KRW, "lot_size": CRYPTO_LOT_SIZE,
            "min_order_value": CRYPTO_MIN_ORDER_VALUE, "status": ListingStatus.LISTED,
        }
        for code, name, name_en in CRYPTO_PAIRS
    ]


def instruments_import_crypto() -> InstrumentImport:
    created, updated = instrument_upsert_many(records=crypto_instrument_records())
    return InstrumentImport(created, updated)


def instruments_import_csv(*, path: str | Path) -> InstrumentImport:
    """Import a KRX or KIS instrument master CSV (format told by its header; see INSTRUMENT_COLUMNS_HELP).

    Raises InstrumentFileError listing every bad row (file, row, column) before writing anything.
    """
    records, ignored = read_instrument_file(path)
    created, updated = instrument_upsert_many(records=records)
    return InstrumentImport(created, updated, ignored)


def read_instrument_file(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """Parse a KRX/KIS master into instrument records; returns (records, rows ignored).

    Rows are numbered like bar files: the header is row 1. Raises InstrumentFileError.
    """
    source = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [KIND_ALIASES.get(name.strip(), name.strip().lower()) for name in reader.fieldnames or []]
            reader.fieldnames = header
            kis = "group" in header and "isin" in header
            expected = KIS_COLUMNS if kis else KRX_COLUMNS
            missing = [name for name in expected if name not in header and name not in OPTIONAL_INSTRUMENT_COLUMNS]
            if missing:
                message = f"missing columns: {', '.join(missing)} (expected {', '.join(expected)})"
                raise InstrumentFileError([RowProblem(source, None, None, message)])
            records, problems, ignored, seen = [], [], 0, {}
            for row in reader:
                number = reader.line_num
                if kis and (row.get("group") or "").strip() not in KIS_GROUP_TICKS:
                    ignored += 1
                    continue
                record, row_problems = _instrument_record(row, kis=kis)
                problems += [RowProblem(source, number, column, message) for column, message in row_problems]
                if record is None:
                    continue
                if record["code"] in seen:
                    message = f"code {record['code']} repeats row {seen[record['code']]}"
                    problems.append(RowProblem(source, number, "code", message))
                    continue
                seen[record["code"]] = number
                records.append(record)
    except FileNotFoundError:
        raise InstrumentFileError([RowProblem(source, None, None, "no such file")]) from None
    except UnicodeDecodeError as exc:
        message = NOT_UTF8.format(reason=exc.reason, start=exc.start)
        raise InstrumentFileError([RowProblem(source, None, None, message)]) from None
    if problems:
        raise InstrumentFileError(problems)
    if not records:
        raise InstrumentFileError([RowProblem(source, None, None, "has no instrument rows")])
    return records, ignored


def _instrument_record(
    row: Mapping[str, str | None], *, kis: bool
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """One CSV row -> (record or None, [(column, message)])."""
    problems: list[tuple[str, str]] = []
    text = {key: (value or "").strip() for key, value in row.items() if key}
    code = text.get("code", "").upper()
    if code.isdigit() and len(code) < 6:
        code = code.zfill(6)  # spreadsheets drop the leading zeros of 000020
    if not INSTRUMENT_CODE.match(code):
        problems.append(("code", f"code '{text.get('code', '')}' is not a KRX code (6 to 9 letters or digits)"))
    if not text.get("name"):
        problems.append(("name", "name is empty"))
    market = MARKET_ALIASES.get(text.get("market", "").upper())
    if market is None:
        problems.append(("market", f"market '{text.get('market', '')}' is not KOSPI, KOSDAQ or KONEX"))
    record: dict[str, Any] = {"code": code, "name": text.get("name", "")[:100], "market": market}
    listed_on = text.get("listing_date", "")
    if listed_on:
        try:
            if "-" not in listed_on:  # 19750611
                listed_on = f"{listed_on[:4]}-{listed_on[4:6]}-{listed_on[6:]}"
            record["listed_on"] = date.fromisoformat(listed_on)
        except ValueError:
            problems.append(("listing_date", f"listing_date '{listed_on}' is not a date (expected YYYY-MM-DD)"))
    if kis:
        record["tick_regime"] = KIS_GROUP_TICKS[text["group"]]
        record["status"] = ListingStatus.SUSPENDED if text.get("halted", "").upper() == "Y" else ListingStatus.LISTED
        lot = text.get("lot_size", "") or "1"
        try:
            record["lot_size"] = Decimal(lot)
            if record["lot_size"] <= 0:
                raise InvalidOperation
        except InvalidOperation:
            problems.append(("lot_size", f"lot_size '{lot}' is not a positive number"))
    else:
        record["tick_regime"] = TickRegime.KRX_STOCK
        if "sector" in text:
            record["sector"] = text["sector"][:100]
    return (None if problems else record), problems


def instruments_import_pykrx(*, day: str | None = None) -> InstrumentImport:
    """Import KOSPI/KOSDAQ/KONEX stock codes and names from KRX through pykrx (network).

    ``day`` is YYYYMMDD (default: pykrx's latest business day). Raises InstrumentSourceUnavailable
    when pykrx cannot reach KRX or returns no codes; nothing is written then.
    """
    try:
        from pykrx import stock

        records = []
        for market in (Market.KOSPI, Market.KOSDAQ, Market.KONEX):
            tickers = stock.get_market_ticker_list(day, market=market.value)
            for ticker in tickers:
                records.append({"code": str(ticker), "name": str(stock.get_market_ticker_name(ticker))[:100],
                                "market": market, "tick_regime": TickRegime.KRX_STOCK})
    except Exception as exc:  # pykrx surfaces network trouble as many different exceptions
        detail = str(exc) if len(str(exc)) <= 120 else str(exc)[:120] + "…"
        reason = f"{type(exc).__name__}: {detail}"
        raise InstrumentSourceUnavailable(_(PYKRX_UNAVAILABLE).format(reason=reason)) from exc
    if not records:
        raise InstrumentSourceUnavailable(_(PYKRX_UNAVAILABLE).format(reason=_("it returned no codes")))
    created, updated = instrument_upsert_many(records=records)
    return InstrumentImport(created, updated)


# --- bars ------------------------------------------------------------------------------------

Progress = Callable[[str, int, int], None]  # (stage "checking" | "writing", done, total)


def _instrument_markets() -> dict[str, str]:
    return dict(Instrument.objects.values_list("code", "market"))


def bars_import_paths(
    *,
    paths: Sequence[str | Path],
    store: BarStore,
    code: str | None = None,
    skip_bad_rows: bool = False,
    known_codes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Check every bar file, then write them all to ``store``; with any problem write nothing.

    ``paths`` are files or folders (their ``*.csv``/``*.parquet``); ``code`` names the instrument
    of a single file whose stem is not its code. ``known_codes`` maps code -> market (default: the
    Instrument table); a file of any other code is an error naming the file. With
    ``skip_bad_rows`` bad rows are dropped and reported in ``ImportSummary.skipped``, but problems
    of a whole file still fail the import. Raises BarFileError listing every problem found.
    """
    files = find_bar_files(paths)
    if code and len(files) != 1:
        message = f"a code ({code}) can only name a single file, not {len(files)}"
        raise BarFileError([RowProblem(", ".join(map(str, paths)), None, None, message)])
    markets = _instrument_markets() if known_codes is None else dict(known_codes)
    parsed: list[ParsedBars | None] = []
    problems: list[RowProblem] = []
    owners: dict[str, str] = {}
    kept_rows = 0
    for done, path in enumerate(files, start=1):
        try:
            bars = read_bar_file(path, code=code, skip_bad_rows=skip_bad_rows, known_codes=markets)
        except BarFileError as exc:
            problems += exc.problems
            parsed.append(None)
        else:
            if bars.code in owners:
                message = f"holds code {bars.code} like {owners[bars.code]}; import one file per code"
                problems.append(RowProblem(str(path), None, None, message))
            owners.setdefault(bars.code, str(path))
            kept_rows += len(bars)
            parsed.append(bars if kept_rows <= KEEP_PARSED_ROWS else None)
        if progress:
            progress("checking", done, len(files))
    if problems:
        raise BarFileError(problems)

    summary = ImportSummary()
    for done, (path, bars) in enumerate(zip(files, parsed, strict=True), start=1):
        bars = bars or read_bar_file(path, code=code, skip_bad_rows=skip_bad_rows, known_codes=markets)
        _write_bars(store, bars, markets[bars.code], summary)
        if progress:
            progress("writing", done, len(files))
    _add_gaps(store, summary)
    return summary


def bars_import_file(
    *, path: str | Path, store: BarStore, code: str | None = None, skip_bad_rows: bool = False
) -> ImportSummary:
    """One file through :func:`bars_import_paths` (same checks, same errors)."""
    return bars_import_paths(paths=[path], store=store, code=code, skip_bad_rows=skip_bad_rows)


def bars_import_provider(
    *,
    provider: str,
    codes: Sequence[str],
    start: date,
    end: date,
    store: BarStore,
    skip_bad_rows: bool = False,
    known_codes: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Fetch bars of ``codes`` from one provider (by its settings name) and write them to ``store``.

    All-or-nothing like :func:`bars_import_paths`: every code is fetched and checked before the
    first write. Raises BarFileError naming each code that failed (unknown code, provider error,
    bad rows); ImproperlyConfigured for an unknown provider name.
    """
    from marketdata.providers.base import ProviderError
    from marketdata.providers.chain import get_provider

    try:
        source = get_provider(provider)
    except ProviderError as exc:  # e.g. a broker provider without credentials
        raise BarFileError([RowProblem(provider, None, None, exc.reason)]) from exc
    markets = _instrument_markets() if known_codes is None else dict(known_codes)
    fetched: list[ParsedBars] = []
    problems: list[RowProblem] = []
    for done, code in enumerate(codes, start=1):
        label = f"{provider}:{code}"
        if code not in markets:
            problems.append(RowProblem(label, None, None, UNKNOWN_CODE.format(code=code)))
            continue
        try:
            bars = source.daily_bars(code, start, end)
            fetched.append(validate_bars(source=label, code=code, rows=bars.columns(), skip_bad_rows=skip_bad_rows))
        except ProviderError as exc:
            problems.append(RowProblem(label, None, None, exc.reason))
        except BarFileError as exc:
            problems += exc.problems
        if progress:
            progress("checking", done, len(codes))
    if problems:
        raise BarFileError(problems)
    summary = ImportSummary()
    for done, bars in enumerate(fetched, start=1):
        _write_bars(store, bars, markets[bars.code], summary)
        if progress:
            progress("writing", done, len(fetched))
    _add_gaps(store, summary)
    return summary


def _write_bars(store: BarStore, bars: ParsedBars, market: str, summary: ImportSummary) -> None:
    summary.skipped += bars.skipped
    if not len(bars):
        return
    result = store.write(bars.code, market, **bars.rows)
    summary.symbols.append(bars.code)
    summary.rows += len(bars)
    summary.rows_added += result.rows_added
    summary.rows_replaced += result.rows_replaced
    first, last = bars.rows["date"][0].item(), bars.rows["date"][-1].item()
    summary.first = min(summary.first or first, first)
    summary.last = max(summary.last or last, last)


def _add_gaps(store: BarStore, summary: ImportSummary) -> None:
    if summary.symbols:
        summary.gaps = sum(coverage.gaps for coverage in store.coverage(summary.symbols))


# --- the shipped sample ----------------------------------------------------------------------


@dataclass(frozen=True)
class SampleLoad:
    instruments_created: int
    bar_files_written: int
    bar_files_present: int
    rows_written: int


@transaction.atomic
def sample_data_load(*, store: BarStore, root: Path = SAMPLE_DATA_DIR) -> SampleLoad:
    """Load the shipped sample (KRX master, KRW crypto pairs, daily bars); safe to run again.

    Instruments already in the database are left as they are (never overwritten). A bar file is
    skipped when the store already covers its first to last date with at least as many rows.
    """
    records, _ignored = read_instrument_file(root / "instruments_krx.csv")
    created = instrument_create_missing(records=[*records, *crypto_instrument_records()])
    files = find_bar_files([root / "bars"])
    markets = _instrument_markets()
    covered = {coverage.code: coverage for coverage in store.coverage([p.stem for p in files])}
    written = present = rows = 0
    for path in files:
        bars = read_bar_file(path, known_codes=markets)
        have = covered.get(bars.code)
        first, last = bars.rows["date"][0].item(), bars.rows["date"][-1].item()
        if have and have.first <= first and have.last >= last and have.rows >= len(bars):
            present += 1
            continue
        store.write(bars.code, markets[bars.code], **bars.rows)
        written += 1
        rows += len(bars)
    if written:
        store.refresh_snapshots()
    return SampleLoad(created, written, present, rows)
