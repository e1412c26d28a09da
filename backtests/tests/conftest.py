"""Real sample bars (Samsung, SK hynix, KRW-BTC) in a temporary bar store, with their instruments."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from backtests import results
from marketdata.models import Instrument, Market
from marketdata.store import BarStore

SAMPLE_BARS = Path(__file__).resolve().parents[2] / "marketdata" / "sample_data" / "bars"
SAMPLE = {
    "005930": ("삼성전자", "Samsung Electronics", Market.KOSPI),
    "000660": ("SK하이닉스", "SK hynix", Market.KOSPI),
    "035720": ("카카오", "Kakao", Market.KOSPI),
    "KRW-BTC": ("비트코인", "Bitcoin", Market.CRYPTO),
}


def read_sample(code: str) -> dict[str, np.ndarray]:
    with open(SAMPLE_BARS / f"{code}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {"date": np.array([row["date"] for row in rows], dtype="datetime64[D]")}
    for name in ("open", "high", "low", "close", "volume"):
        columns[name] = np.array([float(row[name]) for row in rows])
    return columns


@pytest.fixture
def bar_store(settings, tmp_path) -> BarStore:
    settings.MARKET_DATA_ROOT = tmp_path / "marketdata"
    return BarStore(settings.MARKET_DATA_ROOT, fsync=False)


@pytest.fixture
def sample_market(db, bar_store) -> BarStore:
    """The sample instruments in the database and their real daily bars in the store."""
    for code, (name, name_en, market) in SAMPLE.items():
        Instrument.objects.create(code=code, name=name, name_en=name_en, market=market)
        bar_store.write(code, market, **read_sample(code))
    Instrument.objects.create(code="005935", name="삼성전자우", name_en="Samsung Electronics Pref", market=Market.KOSPI)
    return bar_store


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def no_worker(monkeypatch):
    """The task is not sent; tests run its body with services.backtest_execute."""

    class FakeResult:
        id = "task-not-sent"

    monkeypatch.setattr("backtests.tasks.run_backtest.delay", lambda **kwargs: FakeResult())


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the msgids); Korean is the site default."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def fresh_result_cache():
    """Result files are cached per process by name; every test's media starts with run 1 again."""
    results._CACHE.clear()
    yield
    results._CACHE.clear()
