"""import_instruments, import_bars and load_sample_data: all-or-nothing imports with precise errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from marketdata.models import Instrument, ListingStatus, Market, TickRegime
from marketdata.providers.base import DataProvider, ProviderBars, ProviderError
from marketdata.store import BarStore
from marketdata.tests.factories import CryptoInstrumentFactory, InstrumentFactory

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
HEADER = "date,open,high,low,close,volume\n"
GOOD_ROWS = "2024-01-02,100,110,90,105,1000\n2024-01-03,105,115,100,110,2000\n"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_and_a_private_store(settings, tmp_path):
    settings.MARKET_DATA_ROOT = tmp_path / "store"
    with translation.override("en"):
        yield


@pytest.fixture
def store(settings) -> BarStore:
    return BarStore(settings.MARKET_DATA_ROOT)


@pytest.fixture
def stocks(db):
    return [InstrumentFactory(code=code) for code in ("005930", "000660", "035720")]


def run(*args, **options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def failure(*args, **options) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args, **options)
    return str(caught.value)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- import_bars: one bad input per test, each leaving the store empty -----------------------

BAD_FILES = {
    "missing columns": ("date,open,close,volume\n2024-01-02,100,105,1\n",
                        "{path}: missing columns: high, low (header has: date, open, close, volume)"),
    "unparsable date": (HEADER + "2024/13/01,100,110,90,105,1\n",
                        "{path} row 2: date '2024/13/01' is not a date (expected YYYY-MM-DD)"),
    "non-positive price": (HEADER + GOOD_ROWS + "2024-01-04,100,110,90,0,1\n",
                           "{path} row 4: close 0 is not positive"),
    "high below close": (HEADER + "2024-01-02,100,100,90,120,1\n",
                         "{path} row 2: high 100 is below close 120"),
    "high below open": (HEADER + "2024-01-02,120,110,90,100,1\n",
                        "{path} row 2: high 110 is below open 120"),
    "low above open": (HEADER + "2024-01-02,100,130,101,120,1\n",
                       "{path} row 2: low 101 is above open 100"),
    "low above close": (HEADER + "2024-01-02,120,130,110,100,1\n",
                        "{path} row 2: low 110 is above close 100"),
    "negative volume": (HEADER + "2024-01-02,100,110,90,105,-3\n",
                        "{path} row 2: volume -3 is negative"),
    "duplicate dates": (HEADER + GOOD_ROWS + "2024-01-03,105,115,100,110,2000\n",
                        "{path} row 4: duplicate date 2024-01-03, already on row 3"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_import_bars_refuses_a_bad_file_with_the_exact_problem_and_writes_nothing(case, stocks, store, tmp_path):
    text, expected = BAD_FILES[case]
    path = write(tmp_path / "in", "005930.csv", text)

    message = failure("import_bars", str(path))

    assert message.splitlines() == ["Nothing was imported.", f"1 problem in {path}:", "  " + expected.format(path=path)]
    assert store.codes() == []


def test_import_bars_refuses_a_code_missing_from_the_instrument_table(stocks, store, tmp_path):
    path = write(tmp_path / "in", "999999.csv", HEADER + GOOD_ROWS)

    message = failure("import_bars", str(path))

    assert f"{path}: unknown instrument code 999999; import the instrument master first" in message
    assert store.codes() == []


def test_one_bad_file_among_good_ones_imports_nothing(stocks, store, tmp_path):
    folder = tmp_path / "in"
    write(folder, "005930.csv", HEADER + GOOD_ROWS)
    write(folder, "000660.csv", HEADER + GOOD_ROWS + "2024-01-04,100,90,80,85,1\n")
    write(folder, "035720.csv", HEADER + GOOD_ROWS)

    message = failure("import_bars", str(folder))

    assert f"{folder / '000660.csv'} row 4: high 90 is below open 100" in message
    assert store.codes() == []


def test_problems_of_several_files_are_all_listed(stocks, store, tmp_path):
    folder = tmp_path / "in"
    write(folder, "005930.csv", HEADER + "2024-01-02,100,90,80,85,1\n")
    write(folder, "000660.csv", HEADER + "2024-01-02,100,110,90,105,-1\n")

    lines = failure("import_bars", str(folder)).splitlines()

    assert lines[1] == "2 problems in 2 files:"
    assert lines[2:] == [
        f"  {folder / '000660.csv'} row 2: volume -1 is negative",
        f"  {folder / '005930.csv'} row 2: high 90 is below open 100",
    ]


def test_skip_bad_rows_imports_the_rest_and_reports_what_it_skipped(stocks, store, tmp_path):
    folder = tmp_path / "in"
    write(folder, "005930.csv", HEADER + GOOD_ROWS + "2024-01-04,100,90,80,85,1\n")
    write(folder, "000660.csv", HEADER + GOOD_ROWS)

    out, _ = run("import_bars", str(folder), "--skip-bad-rows")

    assert f"skipped {folder / '005930.csv'} row 4: high 90 is below open 100" in out
    assert (
        "Imported 2 symbols, 4 rows (4 new, 0 replaced), 2024-01-02 … 2024-01-03; 0 gaps found; 1 rows skipped."
    ) in out
    assert store.read_one("005930").date.astype(str).tolist() == ["2024-01-02", "2024-01-03"]
    assert store.codes() == ["000660", "005930"]


def test_import_bars_writes_the_real_sample_and_reports_the_span(store, tmp_path):
    run("import_instruments", "--csv", str(SAMPLE / "instruments_krx.csv"), "--crypto")

    out, _ = run("import_bars", str(SAMPLE / "bars"))

    assert "Imported 6 symbols, 28137 rows (28137 new, 0 replaced), 2000-01-04 … 2026-03-17;" in out
    assert store.codes() == ["000660", "005380", "005930", "035420", "035720", "KRW-BTC"]
    assert store.market_of("KRW-BTC") == "CRYPTO"
    assert store.market_of("005930") == "KOSPI"
    assert len(store.read_one("KRW-BTC")) == 1793


def test_import_bars_reads_parquet(stocks, store, tmp_path):
    table = pa.table({
        "date": pa.array([date(2024, 1, 2), date(2024, 1, 3)], type=pa.date32()),
        "open": [100.0, 105.0], "high": [110.0, 115.0], "low": [90.0, 100.0], "close": [105.0, 110.0],
        "volume": [1000.0, 2000.0], "value": [105000.0, 220000.0],
    })
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(table, folder / "000660.parquet")

    run("import_bars", str(folder))

    bars = store.read_one("000660")
    assert bars.close.tolist() == [105.0, 110.0]
    assert bars.value.tolist() == [105000.0, 220000.0]


def test_import_bars_reads_korean_headers(stocks, store, tmp_path):
    path = write(tmp_path / "in", "005930.csv", "날짜,시가,고가,저가,종가,거래량\n2024-08-05,76700,76900,70200,71400,54608790\n")

    run("import_bars", str(path))

    assert store.read_one("005930").to_rows("005930") == [
        {"date": "2024-08-05", "open": 76700.0, "high": 76900.0, "low": 70200.0, "close": 71400.0,
         "volume": 54608790.0, "value": None}
    ]


def test_code_option_names_a_file_whose_stem_is_not_the_code(stocks, store, tmp_path):
    path = write(tmp_path / "in", "samsung-daily.csv", HEADER + GOOD_ROWS)

    run("import_bars", str(path), "--code", "005930")

    assert store.codes() == ["005930"]


def test_code_option_refuses_more_than_one_file(stocks, store, tmp_path):
    folder = tmp_path / "in"
    write(folder, "005930.csv", HEADER + GOOD_ROWS)
    write(folder, "000660.csv", HEADER + GOOD_ROWS)

    message = failure("import_bars", str(folder), "--code", "005930")

    assert "a code (005930) can only name a single file, not 2" in message
    assert store.codes() == []


def test_import_bars_merges_with_what_is_stored(stocks, store, tmp_path):
    run("import_bars", str(write(tmp_path / "a", "005930.csv", HEADER + GOOD_ROWS)))

    newer = HEADER + "2024-01-03,105,120,100,119,1\n2024-01-04,119,125,110,120,1\n"
    out, _ = run("import_bars", str(write(tmp_path / "b", "005930.csv", newer)))

    assert "(1 new, 1 replaced)" in out
    assert store.read_one("005930").close.tolist() == [105.0, 119.0, 120.0]


def test_progress_bar_shows_when_asked(stocks, tmp_path):
    path = write(tmp_path / "in", "005930.csv", HEADER + GOOD_ROWS)

    _, err = run("import_bars", str(path), "--progress")

    assert "writing" in err and "1/1" in err


def test_a_missing_path_is_named(stocks, tmp_path):
    assert f"{tmp_path / 'nope'}: no such file or folder" in failure("import_bars", str(tmp_path / "nope"))


class FakeProvider(DataProvider):
    name = "fake"

    def daily_bars(self, code, start, end):
        if code == "000660":
            raise ProviderError("no rows for 000660", permanent=True)
        high = 90.0 if code == "035720" else 110.0
        return ProviderBars.build(
            [date(2024, 1, 2), date(2024, 1, 3)], [100, 100], [110, high], [90, 90], [105, 105], [1, 1]
        )


@pytest.fixture
def fake_provider(monkeypatch):
    from marketdata.providers import chain

    monkeypatch.setattr(chain, "get_provider", lambda name: FakeProvider())


def test_import_bars_from_a_provider_writes_what_it_returns(stocks, store, fake_provider):
    out, _ = run("import_bars", "--provider", "fake", "--codes", "005930", "--start", "2024-01-01", 
                 "--end", "2024-01-31")

    assert "Imported 1 symbols, 2 rows" in out
    assert store.read_one("005930").close.tolist() == [105.0, 105.0]


def test_import_bars_from_a_provider_is_all_or_nothing(stocks, store, fake_provider):
    codes = "005930,000660,035720,999999"
    message = failure("import_bars", "--provider", "fake", "--codes", codes, "--start", "2024-01-01")

    assert "fake:000660: no rows for 000660" in message
    assert "fake:035720 row 3: high 90 is below open 100" in message
    assert "fake:999999: unknown instrument code 999999" in message
    assert store.codes() == []


# --- import_instruments ----------------------------------------------------------------------


def test_import_instruments_from_the_krx_master_creates_then_updates_without_duplicates():
    out, _ = run("import_instruments", "--csv", str(SAMPLE / "instruments_krx.csv"))
    assert out.strip() == f"{SAMPLE / 'instruments_krx.csv'}: 2767 created, 0 updated"
    assert Instrument.objects.count() == 2767

    out, _ = run("import_instruments", "--csv", str(SAMPLE / "instruments_krx.csv"))
    assert out.strip() == f"{SAMPLE / 'instruments_krx.csv'}: 0 created, 2767 updated"
    assert Instrument.objects.count() == 2767

    samsung = Instrument.objects.get(code="005930")
    assert (samsung.name, samsung.market, samsung.sector) == ("삼성전자", Market.KOSPI, "통신 및 방송 장비 제조업")
    assert samsung.listed_on == date(1975, 6, 11)
    assert samsung.tick_regime == TickRegime.KRX_STOCK
    assert Instrument.objects.filter(code="0001A0").exists()  # the newer alphanumeric codes
    assert Instrument.objects.filter(market=Market.KONEX).count() == 110


def test_import_instruments_from_the_kis_master_adds_etfs_and_keeps_krx_sectors():
    run("import_instruments", "--csv", str(SAMPLE / "instruments_krx.csv"))

    out, _ = run("import_instruments", "--csv", str(SAMPLE / "instruments_kis_master.csv"))

    assert "84 rows of other kinds ignored" in out  # warrants, rights, beneficiary certificates, funds
    assert Instrument.objects.get(code="005930").sector == "통신 및 방송 장비 제조업"
    kodex = Instrument.objects.get(code="069500")
    assert (kodex.market, kodex.tick_regime) == (Market.KOSPI, TickRegime.KRX_ETF)
    assert Instrument.objects.get(code="Q520057").tick_regime == TickRegime.KRX_ETF  # an ETN
    assert Instrument.objects.filter(status=ListingStatus.SUSPENDED).exists()
    assert Instrument.objects.values("code").distinct().count() == Instrument.objects.count()


def test_a_bad_instrument_csv_names_file_row_and_column_and_writes_nothing(tmp_path):
    rows = open(SAMPLE / "instruments_krx.csv", encoding="utf-8").read().splitlines()[:11]
    rows.append("123456,좋은회사,NASDAQ,소프트웨어 개발 및 공급업,2020-01-01")
    rows.append("654321,,KOSDAQ,소프트웨어 개발 및 공급업,2020-13-01")
    path = write(tmp_path, "master.csv", "\n".join(rows) + "\n")

    lines = failure("import_instruments", "--csv", str(path)).splitlines()

    assert lines == [
        f"3 problems in {path}:",
        f"  {path} row 12: market 'NASDAQ' is not KOSPI, KOSDAQ or KONEX",
        f"  {path} row 13: name is empty",
        f"  {path} row 13: listing_date '2020-13-01' is not a date (expected YYYY-MM-DD)",
    ]
    assert Instrument.objects.count() == 0


def test_import_instruments_names_missing_columns(tmp_path):
    path = write(tmp_path, "master.csv", "code,name\n005930,삼성전자\n")

    assert f"{path}: missing columns: market" in failure("import_instruments", "--csv", str(path))


def test_a_bad_csv_rolls_back_the_crypto_pairs_of_the_same_run(tmp_path):
    path = write(tmp_path, "master.csv", "code,name,market\n12,x,MARS\n")

    failure("import_instruments", "--crypto", "--csv", str(path))

    assert Instrument.objects.count() == 0


def test_import_instruments_adds_the_krw_crypto_pairs():
    out, _ = run("import_instruments", "--crypto")

    assert out.strip() == "crypto: 4 created, 0 updated"
    btc = Instrument.objects.get(code="KRW-BTC")
    assert (btc.name, btc.name_en, btc.market) == ("비트코인", "Bitcoin", Market.CRYPTO)
    assert btc.tick_regime == TickRegime.UPBIT_KRW
    assert btc.lot_size == Decimal("0.00000001")
    assert set(Instrument.objects.values_list("code", flat=True)) == {"KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL"}
    assert run("import_instruments", "--crypto")[0].strip() == "crypto: 0 created, 4 updated"


def test_import_instruments_with_pykrx_offline_fails_with_one_clear_message(monkeypatch):
    from pykrx import stock

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve data.krx.co.kr")

    monkeypatch.setattr(stock, "get_market_ticker_list", offline)

    message = failure("import_instruments", "--pykrx")

    assert message.startswith("pykrx could not reach KRX (ConnectionError: Failed to resolve data.krx.co.kr).")
    assert message.endswith("Import a master file with --csv PATH instead.")
    assert Instrument.objects.count() == 0


def test_import_instruments_with_pykrx_upserts_each_market(monkeypatch):
    from pykrx import stock

    listed = {"KOSPI": ["005930"], "KOSDAQ": ["035720"], "KONEX": []}
    calls = []

    def tickers(day=None, market="KOSPI"):
        calls.append((day, market))
        return listed[market]

    monkeypatch.setattr(stock, "get_market_ticker_list", tickers)
    monkeypatch.setattr(stock, "get_market_ticker_name", {"005930": "삼성전자", "035720": "카카오"}.get)
    InstrumentFactory(code="005930", name="옛 이름", sector="통신 및 방송 장비 제조업")

    out, _ = run("import_instruments", "--pykrx", "--date", "20260206")

    assert out.strip() == "pykrx: 1 created, 1 updated"
    assert calls == [("20260206", "KOSPI"), ("20260206", "KOSDAQ"), ("20260206", "KONEX")]
    samsung = Instrument.objects.get(code="005930")
    assert (samsung.name, samsung.sector) == ("삼성전자", "통신 및 방송 장비 제조업")
    assert Instrument.objects.get(code="035720").market == Market.KOSDAQ


def test_import_instruments_needs_a_source():
    assert "Nothing to import" in failure("import_instruments")


def test_import_instruments_help_documents_both_formats():
    from marketdata.management.commands.import_instruments import Command

    text = "".join(Command().create_parser("manage.py", "import_instruments").format_help().split())
    assert "code,name,market,sector,listing_date" in text
    assert "code,isin,name,market,group" in text


# --- load_sample_data ------------------------------------------------------------------------


def test_load_sample_data_loads_everything_once(store):
    out, _ = run("load_sample_data")
    assert out.strip() == "Sample data: 2771 instruments created, 6 bar files written (28137 rows), 0 already present."
    assert Instrument.objects.count() == 2771
    assert sorted(store.codes()) == ["000660", "005380", "005930", "035420", "035720", "KRW-BTC"]

    out, _ = run("load_sample_data")
    assert out.strip() == "Sample data: 0 instruments created, 0 bar files written (0 rows), 6 already present."
    assert Instrument.objects.count() == 2771


def test_load_sample_data_leaves_existing_instruments_alone_and_fills_missing_bars(store):
    CryptoInstrumentFactory(name="BTC (custom)")
    InstrumentFactory(code="005930", name="삼성전자 (custom)")
    store.write("005930", "KOSPI", date=np.array(["2024-01-02"], dtype="datetime64[D]"),
                open=[1.0], high=[1.0], low=[1.0], close=[1.0], volume=[1.0])

    out, _ = run("load_sample_data")

    assert "6 bar files written" in out
    assert Instrument.objects.get(code="KRW-BTC").name == "BTC (custom)"
    assert Instrument.objects.get(code="005930").name == "삼성전자 (custom)"
    assert len(store.read_one("005930")) == 6458


def test_sample_files_match_the_shared_data_set_when_it_is_present():
    # CI clones the project with shared/ beside it.
    shared = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not shared.is_dir():
        pytest.skip("the shared data set is not on this machine")
    for name in ["instruments_krx.csv", "instruments_kis_master.csv"]:
        assert (SAMPLE / name).read_bytes() == (shared / name).read_bytes()
    for path in (shared / "bars").glob("*.csv"):
        assert (SAMPLE / "bars" / path.name).read_bytes() == path.read_bytes()
