"""Markets in a real browser: search as you type, open an instrument, see its candles drawn."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from marketdata.models import Instrument, Market
from marketdata.store import BarStore
from tests.e2e.helpers import login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

BARS_CSV = Path(__file__).resolve().parents[2] / "marketdata" / "sample_data" / "bars" / "005930.csv"


@pytest.fixture
def bar_store(market_data_root):
    """The bar store the server subprocess reads (its MARKET_DATA_ROOT), emptied after the test."""
    store = BarStore(market_data_root)
    yield store
    for code in store.codes():
        store.delete(code)


def _store_samsung_bars(store: BarStore) -> int:
    with open(BARS_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = {"date": np.array([row["date"] for row in rows], dtype="datetime64[D]")}
    for name in ("open", "high", "low", "close", "volume"):
        columns[name] = np.array([float(row[name]) for row in rows])
    return store.write("005930", "KOSPI", **columns).rows_total


def test_a_user_searches_as_they_type_and_sees_the_candles(page, bar_store):
    Instrument.objects.create(
        code="005930", name="삼성전자", name_en="Samsung Electronics", market=Market.KOSPI, sector="통신 및 방송 장비 제조업"
    )
    Instrument.objects.create(code="006400", name="삼성SDI", name_en="Samsung SDI", market=Market.KOSPI)
    Instrument.objects.create(code="035720", name="카카오", name_en="Kakao", market=Market.KOSPI)
    stored = _store_samsung_bars(bar_store)
    user = UserFactory(email="chartist@example.com")

    login(page, user.email)
    page.goto("/markets/")
    search = page.locator("[data-testid=instrument-search]")
    expect(search).to_be_visible()
    search.press_sequentially("삼성", delay=30)  # real key presses: htmx listens for "input"

    results = page.locator("[data-testid=search-result]")
    expect(results.first).to_contain_text("삼성전자")
    expect(page.locator("[data-testid=search-results]")).not_to_contain_text("카카오")
    assert page.url.endswith("/markets/")  # no page load: the list was swapped in place

    with page.expect_navigation():
        results.filter(has_text="삼성전자").get_by_role("link", name="삼성전자").click()
    expect(page).to_have_url(re.compile(r"/markets/005930/$"))
    expect(page.locator("[data-testid=instrument-name]")).to_have_text("삼성전자")

    chart = page.locator("[data-testid=price-chart]")
    expect(chart).to_have_attribute("data-bars-loaded", str(stored))
    sizes = chart.locator("canvas").evaluate_all("cs => cs.map(c => [c.width, c.height])")
    assert sizes and all(w > 0 and h > 0 for w, h in sizes), sizes
    # Candles are drawn: some pixel of the chart's canvases is not the background.
    painted = chart.evaluate(
        """el => Array.from(el.querySelectorAll('canvas')).some(c => {
              const ctx = c.getContext('2d'); if (!ctx || !c.width || !c.height) return false;
              const data = ctx.getImageData(0, 0, c.width, c.height).data;
              for (let i = 3; i < data.length; i += 4 * 97) if (data[i] > 0) return true;
              return false; })"""
    )
    assert painted, "the chart's canvases are empty"
    expect(chart.locator("a[href*='tradingview']")).to_have_count(1)  # TradingView's attribution stays

    page.locator("[data-testid=chart-ranges] button[data-range=all]").click()
    expect(chart).to_have_attribute("data-range", "all")
