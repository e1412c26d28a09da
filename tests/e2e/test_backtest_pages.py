"""The backtest pages as a Korean user reads them: translated engine codes, numbers formatted for
what they are, and a history page that fits a 390 px phone.

The run is computed in the test process (the engine on the real sample bars of Samsung and SK
hynix, with stop loss and take profit) and stored where the server reads it.
"""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from backtests import services, validation
from backtests.engine import REASONS
from backtests.models import BacktestRun, RunStatus
from marketdata.store import BarStore
from tests.e2e.helpers import login, write_sample_market

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

SAMPLE = {"005930": ("삼성전자", "Samsung Electronics"), "000660": ("SK하이닉스", "SK hynix")}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def sample_market(market_data_root, settings):
    settings.MARKET_DATA_ROOT = market_data_root  # the test process writes results from the server's bars
    store = BarStore(market_data_root)
    write_sample_market(store, SAMPLE)
    yield store
    for code in store.codes():
        store.delete(code)


def finished_run(user, monkeypatch, *, title: str = "이동평균 5/20 손절 3% 익절 15%") -> BacktestRun:
    """A succeeded run with stop-loss, take-profit and signal exits, slippage (fills off whole won)
    and equal-weight sizing."""

    class NotSent:
        id = "not-sent"

    monkeypatch.setattr("backtests.tasks.run_backtest.delay", lambda **kwargs: NotSent())
    fields = {"strategy_type": "sma_cross", "params": {"fast": 5, "slow": 20}, "codes": "005930 000660",
              "start": dt.date(2019, 1, 2), "end": dt.date(2024, 12, 30), "cash": 10_000_000, "title": title,
              "slippage_bps": Decimal("5"),
              "sizing": "equal_weight", "stop_loss_pct": Decimal("3"), "take_profit_pct": Decimal("15")}

    def compute() -> BacktestRun:
        try:
            checked = validation.backtest_request_check(user=user, fields=fields)
            run = services.backtest_start(user=user, spec=checked.spec, title=checked.title)
            return services.backtest_execute(run_id=run.pk)
        finally:
            connection.close()

    # Its own thread: sync Playwright's event loop runs in this one, and the run's progress events
    # go through async_to_sync.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(compute).result()


def test_the_results_page_shows_labels_not_engine_codes(new_page, sample_market, monkeypatch):
    user = UserFactory(email="labels@example.com", language="ko")
    run = finished_run(user, monkeypatch)
    assert run.status == RunStatus.SUCCEEDED
    page = new_page()
    login(page, user.email)
    page.goto(f"/backtests/{run.pk}/?sort=-exit_reason")  # take-profit and stop-loss exits first

    reasons = page.locator("[data-testid=trade-table] tbody tr > :last-child")  # the exit type
    expect(reasons.first).to_be_visible()
    shown = set(reasons.all_inner_texts())
    assert {"손절", "익절"} <= shown, shown
    assert not shown & set(REASONS), shown  # no raw code left
    assert not re.search(r"\b(stop_loss|take_profit|equal_weight|trailing_stop|max_holding)\b",
                         page.locator("main").inner_text())

    # the titles say what they are: the trade list, and the positions still open per symbol
    expect(page.locator("[data-testid=trades-section] h2")).to_have_text("거래 내역")
    per_symbol_headers = page.locator("[data-testid=per-symbol] thead th").all_inner_texts()
    assert "보유 중" in per_symbol_headers and "시가" not in per_symbol_headers, per_symbol_headers
    # sizing in the frozen inputs
    expect(page.locator("[data-testid=frozen-inputs]")).to_contain_text("균등 비중")

    # a win rate and an exposure are shares of a whole: no "+"; returns are signed
    for key in ("win_rate", "exposure"):
        expect(page.locator(f"[data-testid=metric-{key}]")).to_have_text(re.compile(r"^\d[\d,]*\.\d\d%$"))
    # stock fills are whole won even with slippage
    prices = page.locator("[data-testid=trade-table] tbody tr > :nth-child(3)").all_inner_texts()  # entry price
    assert prices and all(re.fullmatch(r"\d{1,3}(,\d{3})*", text) for text in prices), prices


def test_the_history_page_fits_a_phone(browser, live_server_url, sample_market, monkeypatch):
    user = UserFactory(email="phone@example.com", language="ko")
    finished_run(user, monkeypatch)
    BacktestRun.objects.create(
        owner=user, title="대기 중인 백테스트", strategy_type="sma_cross", params={"fast": 5, "slow": 20},
        codes=["005930", "000660"], start="2020-01-02", end="2024-12-30", cash=10_000_000,
        commission="0.00015", status=RunStatus.QUEUED,
    )
    context = browser.new_context(base_url=live_server_url, viewport=PHONE, locale="ko-KR", timezone_id="Asia/Seoul")
    try:
        page = context.new_page()
        login(page, user.email)
        page.goto("/backtests/")
        rows = page.locator("[data-testid=run-row]")
        expect(rows).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        # each status badge on one line
        line_counts = page.eval_on_selector_all(
            "[data-testid=run-row] .badge",
            "els => els.map(e => Math.round(e.getBoundingClientRect().height"
            " / parseFloat(getComputedStyle(e).lineHeight)))",
        )
        assert line_counts == [1, 1], line_counts
        # what a user looks for in each row is in view: title, status, return, and the compare box
        first = rows.filter(has=page.locator("[data-testid=delete-row]"))
        for locator in (first.locator("a").first, first.locator(".badge"),
                        first.locator("input[name=ids]"), first.locator("[data-testid=delete-row]")):
            box = locator.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        expect(first).to_contain_text("%")
        # sorting stays at hand
        expect(page.locator("[data-testid=sort-total_return]")).to_be_visible()
    finally:
        context.close()


def test_row_actions_line_up_with_their_row(new_page, sample_market, monkeypatch):
    user = UserFactory(email="actions@example.com", language="en")
    finished_run(user, monkeypatch, title="Aligned")
    page = new_page()
    login(page, user.email)
    page.goto("/backtests/")
    row = page.locator("[data-testid=run-row]").first
    cells = row.locator(":scope > td, :scope > th")
    tops = {round(box["y"]) for box in (cells.nth(i).bounding_box() for i in range(cells.count()))}
    heights = {round(box["height"]) for box in (cells.nth(i).bounding_box() for i in range(cells.count()))}
    assert len(tops) == 1 and len(heights) == 1, (tops, heights)  # the actions cell is a cell of the row
