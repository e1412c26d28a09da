"""Market-data providers against fake KIS/Kiwoom servers (real local HTTP), the local store,
a CSV folder and a monkeypatched pykrx; the chain's fallback, error report and cache.

KIS and Kiwoom run against the trading clients' fakes (``trading.fakes``: each broker's own answer
shapes), serving the sample bars of CODE."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from marketdata.providers import kis as kis_module
from marketdata.providers import kiwoom as kiwoom_module
from marketdata.providers.base import AllProvidersFailed, DataProvider, ProviderBars, ProviderError
from marketdata.providers.chain import ChainResult, ProviderChain, default_chain, get_provider
from marketdata.providers.kis import KisProvider
from marketdata.providers.kiwoom import KiwoomProvider
from marketdata.providers.pykrx_provider import PykrxProvider
from trading.brokers.http import MemoryTokenStore
from trading.fakes.kis import FakeKis
from trading.fakes.kiwoom import FakeKiwoom
from trading.fakes.server import Answer

SAMPLE_BARS_DIR = Path(__file__).resolve().parents[1] / "sample_data" / "bars"

pytestmark = pytest.mark.skipif(not (SAMPLE_BARS_DIR / "005930.csv").is_file(), reason="sample bars not available")

CODE = "005930"
START, END = date(2023, 1, 1), date(2024, 6, 30)
SECRET = "test-app-secret-DO-NOT-LEAK"


@dataclass(frozen=True)
class SampleBar:
    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int


def load_sample_bars(code: str) -> list[SampleBar]:
    """Rows of the sample ``<code>.csv``, oldest first."""
    with (SAMPLE_BARS_DIR / f"{code}.csv").open(newline="", encoding="utf-8") as handle:
        fields = ("open", "high", "low", "close", "volume")
        return [SampleBar(date.fromisoformat(row["date"]), *(int(float(row[k])) for k in fields))
                for row in csv.DictReader(handle)]


@pytest.fixture(autouse=True)
def _fresh_tokens():
    kis_module.TOKENS.clear()
    kiwoom_module.TOKENS.clear()
    yield
    kis_module.TOKENS.clear()
    kiwoom_module.TOKENS.clear()


KIS_KEY = "PSmarketDATAkey" + "k" * 21
KIS_CHART = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"
KIS_FAULTS = {
    "http500": Answer(500, "Internal Server Error"),
    "http429": Answer(429, "Too Many Requests"),
    "rate_limit": Answer(500, {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}),
    "slow": "timeout",
}


class ChartKis(FakeKis):
    """The fake KIS with one market-data key, the sample bars of CODE and the counters these tests read."""

    def __init__(self) -> None:
        super().__init__(rate_limits={"real": 1000})
        self.add_account(KIS_KEY, SECRET, "50000009-01")
        self.load_bars(CODE, SAMPLE_BARS_DIR / f"{CODE}.csv")
        self.base_url, self.app_key, self.app_secret = "", KIS_KEY, SECRET

    def start(self) -> ChartKis:
        super().start()
        self.base_url = self.url
        return self

    @property
    def chart_calls(self) -> int:
        return self.count(KIS_CHART)

    @property
    def token_calls(self) -> int:
        return self.count("/oauth2/tokenP")

    def fail(self, mode: str, times: int = 20) -> None:
        """The next ``times`` chart calls fail as ``mode`` says (``empty``: the code has no bars)."""
        if mode == "empty":
            self.listed[CODE].bars = []
        else:
            self.fail_next(KIS_CHART, KIS_FAULTS[mode], times)


@pytest.fixture
def fake_kis():
    with ChartKis() as server:
        yield server


KIWOOM_KEY = "market-data-kiwoom-key"
KIWOOM_CHART = "/api/dostk/chart"
KIWOOM_FAULTS = {
    "http500": Answer(500, "Internal Server Error"),
    "http429": Answer(429, "Too Many Requests"),
    "rate_limit": Answer(200, {"return_code": 5, "return_msg": "[1700:허용된 요청 개수를 초과하였습니다. API ID=ka10081]"}),
    "slow": "timeout",
}


class ChartKiwoom(FakeKiwoom):
    """The fake Kiwoom with one market-data key, the sample bars of CODE and the counters these tests read."""

    def __init__(self) -> None:
        super().__init__(requests_per_second=1000)
        self.add_account(KIWOOM_KEY, SECRET, "5011111111")
        self.set_bars(CODE, [(b.day, b.open, b.high, b.low, b.close, b.volume) for b in load_sample_bars(CODE)])
        self.app_key, self.app_secret = KIWOOM_KEY, SECRET

    @property
    def base_url(self) -> str:
        return self.url

    @property
    def chart_calls(self) -> int:
        return self.count(KIWOOM_CHART)

    @property
    def token_calls(self) -> int:
        return self.count("/oauth2/token")

    def fail(self, mode: str, times: int = 20) -> None:
        """The next ``times`` chart calls fail as ``mode`` says (``empty``: the code has no bars)."""
        if mode == "empty":
            self.stocks[CODE].bars = []
        else:
            self.fail_next(KIWOOM_CHART, KIWOOM_FAULTS[mode], times)


@pytest.fixture
def fake_kiwoom():
    with ChartKiwoom() as server:
        yield server


def kis_for(server: ChartKis, **options) -> KisProvider:
    options = {"timeout": 2.0, "requests_per_second": 0, "rate_limit_retries": 0, **options}
    return KisProvider(server.base_url, server.app_key, server.app_secret, **options)


def kiwoom_for(server: ChartKiwoom, **options) -> KiwoomProvider:
    options = {"timeout": 2.0, "requests_per_second": 0, "rate_limit_retries": 0, **options}
    return KiwoomProvider(server.base_url, server.app_key, server.app_secret, **options)


def expected_rows(start: date = START, end: date = END):
    return [bar for bar in load_sample_bars(CODE) if start <= bar.day <= end]


def assert_bars_equal_csv(bars: ProviderBars, start: date = START, end: date = END) -> None:
    rows = expected_rows(start, end)
    assert len(bars) == len(rows) > 0
    assert [str(d) for d in bars.date] == [bar.day.isoformat() for bar in rows]
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(bars, column), [getattr(bar, column) for bar in rows])


class FailingProvider(DataProvider):
    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason, self.calls = name, reason, 0

    def daily_bars(self, code, start, end):
        self.calls += 1
        raise ProviderError(self.reason, permanent=True)


# -- KIS -----------------------------------------------------------------------------------------
def test_kis_pages_backwards_and_returns_the_csv_rows(fake_kis):
    bars = kis_for(fake_kis).daily_bars(CODE, START, END)

    assert_bars_equal_csv(bars)
    assert fake_kis.chart_calls == -(-len(expected_rows()) // 100)  # 100 rows per call
    assert fake_kis.chart_calls >= 3
    assert fake_kis.token_calls == 1
    np.testing.assert_array_equal(bars.value, bars.close * bars.volume)


def test_kis_reuses_its_token_across_provider_instances(fake_kis):
    kis_for(fake_kis).daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31))
    kis_for(fake_kis).daily_bars(CODE, date(2024, 2, 1), date(2024, 2, 28))

    assert fake_kis.token_calls == 1


def test_kis_reissues_an_expired_token_once(fake_kis):
    provider = kis_for(fake_kis)
    provider.daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31))
    fake_kis.advance(61)  # KIS gives one token a minute
    fake_kis.expire_tokens()

    bars = provider.daily_bars(CODE, date(2024, 2, 1), date(2024, 2, 28))

    assert_bars_equal_csv(bars, date(2024, 2, 1), date(2024, 2, 28))
    assert fake_kis.token_calls == 2


@pytest.mark.parametrize(
    ("mode", "reason", "permanent"),
    [
        ("http500", "server error HTTP 500", False),
        ("slow", "timed out after 1s", False),
        ("rate_limit", "rate limited (EGW00201)", False),
        ("http429", "rate limited (HTTP 429)", False),
        ("empty", "empty answer", False),
    ],
)
def test_kis_failures_become_provider_errors(fake_kis, mode, reason, permanent):
    fake_kis.fail(mode)

    with pytest.raises(ProviderError) as caught:
        kis_for(fake_kis, timeout=1.0).daily_bars(CODE, START, END)

    assert reason in caught.value.reason
    assert caught.value.permanent is permanent


@pytest.mark.parametrize("status", [200, 500])
def test_kis_rate_limit_is_read_from_the_body_whatever_the_status(fake_kis, status):
    fake_kis.fail_next(KIS_CHART, Answer(status, {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}))

    with pytest.raises(ProviderError, match=r"rate limited \(EGW00201\)"):
        kis_for(fake_kis).daily_bars(CODE, START, END)


def test_kis_retries_once_after_a_rate_limit(fake_kis):
    fake_kis.fail("rate_limit", times=1)

    bars = kis_for(fake_kis, rate_limit_retries=1, rate_limit_pause=0.01).daily_bars(CODE, START, END)

    assert_bars_equal_csv(bars)


def test_kis_refused_credentials_are_permanent_and_keep_the_secret_out(fake_kis, caplog):
    caplog.set_level(logging.DEBUG)
    provider = KisProvider(fake_kis.base_url, fake_kis.app_key, "wrong-" + SECRET, timeout=2.0)

    with pytest.raises(ProviderError) as caught:
        provider.daily_bars(CODE, START, END)

    assert caught.value.permanent
    assert "KIS refused the app key or secret (EGW00105)" in caught.value.reason
    assert SECRET not in str(caught.value) and SECRET not in caplog.text
    assert SECRET not in repr(provider)


def test_kis_without_keys_says_it_is_not_configured():
    with pytest.raises(ProviderError) as caught:
        KisProvider("https://openapi.koreainvestment.com:9443", "", "").daily_bars(CODE, START, END)

    assert caught.value.permanent
    assert "not configured" in caught.value.reason


def test_kis_connection_refused_is_transient():
    with FakeKis() as server:
        url = server.url
    with pytest.raises(ProviderError) as caught:
        KisProvider(url, "key", "secret", timeout=2.0).daily_bars(CODE, START, END)

    assert "connection failed" in caught.value.reason
    assert not caught.value.permanent


# -- Kiwoom --------------------------------------------------------------------------------------
def test_kiwoom_follows_next_key_and_returns_absolute_prices(fake_kiwoom):
    bars = kiwoom_for(fake_kiwoom).daily_bars(CODE, START, END)

    assert_bars_equal_csv(bars)
    assert fake_kiwoom.chart_calls >= 3
    assert fake_kiwoom.token_calls == 1
    # trde_prica comes in millions of KRW
    np.testing.assert_allclose(bars.value, bars.close * bars.volume, atol=500_000)


def test_kiwoom_reissues_an_expired_token_once(fake_kiwoom):
    provider = kiwoom_for(fake_kiwoom)
    provider.daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31))
    fake_kiwoom.expire_tokens()

    provider.daily_bars(CODE, date(2024, 2, 1), date(2024, 2, 28))

    assert fake_kiwoom.token_calls == 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("http500", "server error HTTP 500"),
        ("slow", "timed out after 1s"),
        ("rate_limit", "rate limited (1700)"),
        ("http429", "rate limited (HTTP 429)"),
        ("empty", "empty answer"),
    ],
)
def test_kiwoom_failures_become_transient_provider_errors(fake_kiwoom, mode, reason):
    fake_kiwoom.fail(mode)

    with pytest.raises(ProviderError) as caught:
        kiwoom_for(fake_kiwoom, timeout=1.0).daily_bars(CODE, START, END)

    assert reason in caught.value.reason
    assert not caught.value.permanent


def test_kiwoom_refused_credentials_keep_the_secret_out(fake_kiwoom, caplog):
    caplog.set_level(logging.DEBUG)
    provider = KiwoomProvider(fake_kiwoom.base_url, fake_kiwoom.app_key, "wrong-" + SECRET, timeout=2.0)

    with pytest.raises(ProviderError) as caught:
        provider.daily_bars(CODE, START, END)

    assert caught.value.permanent
    assert "8002" in caught.value.reason
    assert SECRET not in str(caught.value) and SECRET not in caplog.text


# -- chain ---------------------------------------------------------------------------------------
def test_chain_falls_back_and_reports_which_provider_answered(fake_kis, fake_kiwoom, caplog):
    fake_kis.fail("http500")
    chain = ProviderChain([kis_for(fake_kis), kiwoom_for(fake_kiwoom)], cache_seconds=0)

    with caplog.at_level(logging.WARNING, logger="marketdata.providers.chain"):
        result = chain.daily_bars(CODE, START, END)

    assert isinstance(result, ChainResult)
    assert result.provider == "kiwoom"
    assert_bars_equal_csv(result.bars)
    assert "kis skipped" in caplog.text and "server error HTTP 500" in caplog.text


def test_chain_lists_every_reason_when_all_fail(fake_kis, fake_kiwoom, caplog):
    caplog.set_level(logging.DEBUG)
    fake_kis.fail("rate_limit")
    fake_kiwoom.fail("slow")
    local = FailingProvider("local", "no bars in the local store for 005930")
    chain = ProviderChain([local, kis_for(fake_kis), kiwoom_for(fake_kiwoom, timeout=1.0)], cache_seconds=0)

    with pytest.raises(AllProvidersFailed) as caught:
        chain.daily_bars(CODE, START, END)

    failures = dict(caught.value.failures)
    assert list(failures) == ["local", "kis", "kiwoom"]
    assert "rate limited" in failures["kis"] and "timed out" in failures["kiwoom"]
    lines = str(caught.value).splitlines()
    assert lines[0] == f"no market-data provider could answer {CODE} {START}..{END}:"
    assert lines[1:] == [f"  {name}: {reason}" for name, reason in caught.value.failures]
    assert not caught.value.permanent
    assert SECRET not in str(caught.value) and SECRET not in caplog.text


def test_chain_answers_a_repeated_request_from_the_cache(fake_kis):
    chain = ProviderChain([kis_for(fake_kis)], cache=cache, cache_seconds=60)
    first = chain.daily_bars(CODE, START, END)
    calls = fake_kis.chart_calls

    again = ProviderChain([kis_for(fake_kis)], cache=cache, cache_seconds=60).daily_bars(CODE, START, END)

    assert fake_kis.chart_calls == calls
    assert (again.provider, again.cached, first.cached) == ("kis", True, False)
    assert_bars_equal_csv(again.bars)
    np.testing.assert_array_equal(again.bars.value, first.bars.value)


def test_chain_cache_key_depends_on_the_range_and_the_providers(fake_kis, fake_kiwoom):
    ProviderChain([kis_for(fake_kis)], cache_seconds=60).daily_bars(CODE, START, END)
    ProviderChain([kis_for(fake_kis)], cache_seconds=60).daily_bars(CODE, START, date(2024, 5, 31))
    ProviderChain([kiwoom_for(fake_kiwoom), kis_for(fake_kis)], cache_seconds=60).daily_bars(CODE, START, END)

    assert fake_kis.chart_calls == 2 * 4
    assert fake_kiwoom.chart_calls > 0


def test_chain_does_not_cache_local_providers(tmp_path, settings):
    pytest.importorskip("marketdata.validation")
    from marketdata.providers.csv_folder import CsvFolderProvider

    (tmp_path / f"{CODE}.csv").write_text("date,open,high,low,close,volume\n2024-01-02,10,12,9,11,100\n")
    chain = ProviderChain([CsvFolderProvider(tmp_path)], cache_seconds=60)
    chain.daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31))
    (tmp_path / f"{CODE}.csv").write_text("date,open,high,low,close,volume\n2024-01-02,10,12,9,12,100\n")

    assert chain.daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31)).bars.close.tolist() == [12.0]


def test_get_provider_refuses_unknown_names():
    with pytest.raises(ImproperlyConfigured, match="unknown market-data provider 'bloomberg'"):
        get_provider("bloomberg")


def test_default_chain_follows_the_setting(settings):
    settings.MARKET_DATA_PROVIDERS = ["local", "kis"]
    settings.MARKET_DATA_KIS_APP_KEY = ""

    chain = default_chain()

    assert chain.names == ["local", "kis"]
    with pytest.raises(AllProvidersFailed) as caught:
        chain.daily_bars(CODE, START, END)
    assert "not configured" in dict(caught.value.failures)["kis"]
    assert caught.value.permanent


# -- local store, CSV folder, pykrx --------------------------------------------------------------
def test_local_store_answers_what_was_written(tmp_path):
    store_module = pytest.importorskip("marketdata.store")
    from marketdata.providers.local import LocalStoreProvider

    rows = expected_rows()
    store_module.BarStore(tmp_path).write(
        CODE, "KOSPI", [r.day for r in rows], [r.open for r in rows], [r.high for r in rows],
        [r.low for r in rows], [r.close for r in rows], [r.volume for r in rows],
    )

    bars = LocalStoreProvider(tmp_path).daily_bars(CODE, START, END)

    assert_bars_equal_csv(bars)
    assert np.isnan(bars.value).all()


def test_local_store_without_bars_says_so(tmp_path):
    pytest.importorskip("marketdata.store")
    from marketdata.providers.local import LocalStoreProvider

    with pytest.raises(ProviderError, match=f"no bars in the local store for {CODE} between 2023-01-01 and 2024-06-30"):
        LocalStoreProvider(tmp_path).daily_bars(CODE, START, END)


def test_csv_folder_reads_the_sample_file():
    pytest.importorskip("marketdata.validation")
    from marketdata.providers.csv_folder import CsvFolderProvider

    assert_bars_equal_csv(CsvFolderProvider(SAMPLE_BARS_DIR).daily_bars(CODE, START, END))


def test_csv_folder_reports_a_missing_or_invalid_file(tmp_path):
    pytest.importorskip("marketdata.validation")
    from marketdata.providers.csv_folder import CsvFolderProvider

    (tmp_path / "000660.csv").write_text("date,open,high,low,close,volume\n2024-01-02,10,9,8,11,100\n")
    provider = CsvFolderProvider(tmp_path)

    with pytest.raises(ProviderError, match="no file 005930.csv"):
        provider.daily_bars(CODE, START, END)
    with pytest.raises(ProviderError, match="000660.csv is invalid: .*row 2"):
        provider.daily_bars("000660", START, END)


def test_pykrx_maps_the_korean_columns(monkeypatch):
    from pykrx import stock

    def fake_ohlcv(fromdate, todate, ticker):
        assert (fromdate, todate, ticker) == ("20240102", "20240105", CODE)
        index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="날짜")
        return pd.DataFrame(
            {"시가": [100, 0, 110], "고가": [120, 0, 115], "저가": [90, 0, 100], "종가": [110, 110, 105],
             "거래량": [1000, 0, 500]},
            index=index,
        )

    monkeypatch.setattr(stock, "get_market_ohlcv", fake_ohlcv)

    bars = PykrxProvider().daily_bars(CODE, date(2024, 1, 2), date(2024, 1, 5))

    assert [str(d) for d in bars.date] == ["2024-01-02", "2024-01-04"]  # the halted day is dropped
    assert bars.close.tolist() == [110.0, 105.0]
    assert np.isnan(bars.value).all()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [(ConnectionError("Max retries exceeded with url: data.krx.co.kr"), "pykrx failed: ConnectionError"),
     (pd.DataFrame(), "empty answer")],
)
def test_pykrx_failures_become_provider_errors(monkeypatch, answer, reason):
    from pykrx import stock

    def fake_ohlcv(*args, **kwargs):
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(stock, "get_market_ohlcv", fake_ohlcv)

    with pytest.raises(ProviderError, match=reason) as caught:
        PykrxProvider().daily_bars(CODE, START, END)
    assert not caught.value.permanent


def test_pykrx_not_installed_is_a_permanent_error_saying_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pykrx", None)  # as in the runtime tree: pykrx is an optional extra

    with pytest.raises(ProviderError, match=r"pykrx is not installed .*pip install -r requirements-pykrx\.txt") as caught:
        PykrxProvider().daily_bars(CODE, START, END)
    assert caught.value.permanent


def test_provider_bars_survive_the_cache_payload():
    bars = ProviderBars.build(["2024-01-03", "2024-01-02", "2024-01-03"], [1, 2, 3], [4, 5, 6], [0, 1, 2],
                              [2, 3, 4], [10, 20, 30], value=[np.nan, 1.5, 7.0])

    again = ProviderBars.from_payload(bars.to_payload())

    assert [str(d) for d in again.date] == ["2024-01-02", "2024-01-03"]
    assert again.open.tolist() == [2.0, 3.0]  # the later duplicate wins
    np.testing.assert_array_equal(again.value, [1.5, 7.0])


def test_httpx_client_can_be_injected(fake_kis):
    with httpx.Client() as client:
        provider = KisProvider(fake_kis.base_url, fake_kis.app_key, SECRET, client, timeout=2,
                               requests_per_second=0)
        assert len(provider.daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31))) > 0


def test_chain_survives_a_provider_that_crashes(fake_kiwoom, caplog):
    class Broken(DataProvider):
        name = "broken"

        def daily_bars(self, code, start, end):
            raise KeyError("bug")

    result = ProviderChain([Broken(), kiwoom_for(fake_kiwoom)], cache_seconds=0).daily_bars(CODE, START, END)

    assert result.provider == "kiwoom"
    assert "broken skipped" in caplog.text and "unexpected KeyError" in caplog.text


class RecordingBudget:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def acquire(self, key: str, *, per_second: int, priority: bool = False) -> None:
        self.calls.append((key, per_second))


def test_kis_paces_every_call_through_the_budget_it_is_given(fake_kis):
    budget = RecordingBudget()

    kis_for(fake_kis, requests_per_second=10, budget=budget).daily_bars(CODE, START, END)

    assert len(budget.calls) == 1 + fake_kis.chart_calls  # the token and every chart call
    assert {per_second for _, per_second in budget.calls} == {10}
    assert len({key for key, _ in budget.calls}) == 1 and KIS_KEY not in budget.calls[0][0]


def test_kis_shares_the_token_store_it_is_given(fake_kis):
    store = MemoryTokenStore()
    kis_for(fake_kis, tokens=store).daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31))

    kis_for(fake_kis, tokens=store).daily_bars(CODE, date(2024, 2, 1), date(2024, 2, 28))
    with pytest.raises(ProviderError) as caught:  # another store: KIS allows one token a minute
        kis_for(fake_kis, tokens=MemoryTokenStore()).daily_bars(CODE, START, END)

    assert fake_kis.token_issuances(KIS_KEY) == 1
    assert "EGW00133" in caught.value.reason and not caught.value.permanent


def test_kis_does_not_wait_out_a_token_cooldown(fake_kis):
    store = MemoryTokenStore()
    kis_for(fake_kis).daily_bars(CODE, date(2024, 1, 1), date(2024, 1, 31))
    with pytest.raises(ProviderError):
        kis_for(fake_kis, tokens=store).daily_bars(CODE, START, END)

    with pytest.raises(ProviderError) as caught:  # the cooldown is stored: no request, no minute of waiting
        kis_for(fake_kis, tokens=store).daily_bars(CODE, START, END)

    assert caught.value.reason.startswith("KIS allows a new token only in") and not caught.value.permanent
    assert fake_kis.token_calls == 2


def test_the_chain_gives_the_kis_provider_the_shared_token_store_and_budget(settings):
    sharing = pytest.importorskip("trading.sharing")
    settings.MARKET_DATA_KIS_APP_KEY, settings.MARKET_DATA_KIS_APP_SECRET = KIS_KEY, SECRET
    settings.MARKET_DATA_KIS_REQUESTS_PER_SECOND = 1.0

    provider = get_provider("kis")

    assert provider.client.tokens is sharing.shared_token_store()
    assert provider.client.budget is sharing.shared_budget()
    assert provider.client.requests_per_second == 1


def test_pykrx_lists_instruments(monkeypatch):
    from pykrx import stock

    tickers = {"KOSPI": ["005930"], "KOSDAQ": ["035720"], "KONEX": []}
    monkeypatch.setattr(stock, "get_market_ticker_list", lambda date=None, market="KOSPI": tickers[market])
    monkeypatch.setattr(stock, "get_market_ticker_name", {"005930": "삼성전자", "035720": "카카오"}.get)

    records = PykrxProvider().instruments()

    assert [(r.code, r.name, r.market) for r in records] == [("005930", "삼성전자", "KOSPI"), ("035720", "카카오", "KOSDAQ")]
