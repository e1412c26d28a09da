"""Backtests in a real browser against `manage.py serve` (embedded Celery worker, real websocket).

A new user runs a backtest on Samsung Electronics' real sample bars, sees the events arrive over
the websocket and the page turn into the results, the charts drawn, the trades sorted and
coloured, downloads CSV and JSON, and watches the signal viewer switch to a second run when it
finishes. Every error of the form shows under its field.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from backtests.models import BacktestRun, RunStatus
from marketdata.store import BarStore
from tests.e2e.conftest import TIMEOUT_MS
from tests.e2e.helpers import choose_strategy_type, login, write_sample_market

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

SAMPLE = {"005930": ("삼성전자", "Samsung Electronics"), "035720": ("카카오", "Kakao")}


@pytest.fixture
def sample_market(market_data_root):
    """Real sample bars of Samsung (2000-) and Kakao (2021-) in the server's bar store."""
    store = BarStore(market_data_root)
    write_sample_market(store, SAMPLE)
    yield store
    for code in store.codes():
        store.delete(code)


def record_live_frames(page) -> list[dict]:
    """Every message the page's websockets receive (across navigations of this tab)."""
    frames: list[dict] = []

    def on_socket(socket):
        def on_frame(payload):
            try:
                frames.append(json.loads(payload))
            except (TypeError, ValueError):
                pass

        socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return frames


def wait_live(page) -> None:
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")


def fill_form(page, *, codes="005930", start="2019-01-02", end="2024-12-30", cash="10000000") -> None:
    page.goto("/backtests/new/")
    choose_strategy_type(page, "sma_cross")
    page.locator("input[name='params.fast']").fill("5")
    page.locator("input[name='params.slow']").fill("20")
    page.locator("input[name=codes]").fill(codes)
    page.locator("input[name=start]").fill(start)
    page.locator("input[name=end]").fill(end)
    page.locator("input[name=cash]").fill(cash)


def _download(page, testid: str) -> bytes:
    """Click a download link: the browser must take it as a download (a file name of its own); its bytes
    are fetched again with a timeout (``Download.path()`` has none: a stalled download would hang the run)."""
    with page.expect_download() as info:
        page.get_by_test_id(testid).click()
    download = info.value
    assert download.suggested_filename
    answer = page.request.get(download.url, timeout=TIMEOUT_MS)
    download.cancel()
    assert answer.ok, answer.status
    return answer.body()


def field_error(page, field: str):
    return page.locator(f"[data-field='{field}'] [data-testid=field-error]")


def test_a_new_user_runs_a_backtest_and_sees_it_live_and_in_the_viewer(new_page, sample_market, tmp_path):
    user = UserFactory(email="quant@example.com", language="en")
    page = new_page()
    login(page, user.email)
    frames = record_live_frames(page)

    # the instrument search fills the codes (code or Korean name)
    page.goto("/backtests/new/")
    wait_live(page)
    page.locator("input[name=codes]").fill("")
    page.locator("[data-testid=instrument-picker]").press_sequentially("삼성", delay=30)
    page.locator("[data-testid=picker-result]").filter(has_text="삼성전자").click()
    expect(page.locator("input[name=codes]")).to_have_value("005930")
    page.locator("input[name='params.fast']").fill("5")
    page.locator("input[name='params.slow']").fill("20")
    page.locator("input[name=start]").fill("2019-01-02")
    page.locator("input[name=end]").fill("2024-12-30")
    with page.expect_navigation():
        page.locator("[data-testid=run-backtest]").dblclick()  # a double click is one run
    expect(page).to_have_url(re.compile(r"/backtests/\d+/$"))
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    # progress and the outcome are pushed over the websocket; the page turns into the results
    expect(page.locator("[data-testid=metric-cards]")).to_be_visible(timeout=30_000)
    assert BacktestRun.objects.filter(owner=user).count() == 1
    pushed = [f for f in frames if f.get("event", "").startswith("backtest.") and f["payload"]["id"] == run_id]
    assert pushed, frames
    assert {f["payload"]["status"] for f in pushed} & {"queued", "running", "succeeded"}

    # charts drawn from the results API and the bars API (with the trades as markers)
    charts = page.locator("[data-testid=charts]")
    expect(charts).to_have_attribute("data-chart-ready", "1")
    for chart in ("equity-chart", "drawdown-chart", "candle-chart"):
        assert page.locator(f"[data-testid={chart}] canvas").count() > 0, chart
    assert int(page.locator("[data-testid=candle-chart]").get_attribute("data-markers")) > 0

    # the trades: sortable by return, returns coloured by sign
    expect(page.locator("[data-testid=trade-row]").first).to_be_visible()
    page.locator("[data-testid=sort-net_return]").click()
    expect(page.locator("[data-testid=trades]")).to_have_attribute("data-sort", "-net_return")
    values = [float(v) for v in page.locator("[data-testid=trade-return]").evaluate_all(
        "cells => cells.map(c => c.dataset.value).filter(v => v !== '')")]
    assert values == sorted(values, reverse=True) and values[0] > 0 > values[-1]
    assert page.locator("[data-testid=trade-return].up").count() > 0
    assert page.locator("[data-testid=trade-return].down").count() > 0
    # (the price-colours preference: tests/e2e/test_charts_and_colours.py)

    # downloads: CSV with a BOM and JSON
    data = _download(page, "download-trades")
    assert data.startswith("\ufeff".encode()) and data.decode("utf-8").lstrip("\ufeff").startswith("symbol,name,entry_date")
    assert "삼성전자" in data.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8").lstrip("\ufeff"))))
    assert rows and rows[0]["symbol"] == "005930"
    document = json.loads(_download(page, "download-json").decode("utf-8"))
    assert document["id"] == run_id and document["trades"]
    assert _download(page, "download-signals").startswith(b"\xef\xbb\xbfdate,symbol")

    # the signal viewer follows the latest run: a second run finishing (another tab) replaces it
    page.goto("/viewer/")
    wait_live(page)
    panel = page.locator("[data-testid=signals-panel]")
    expect(panel).to_have_attribute("data-run-id", str(run_id))
    expect(page.locator("[data-testid=signal-row]").first).to_be_visible()
    other = page.context.new_page()
    # a finished page is kept by the edge cache of each server process after its first visit there;
    # the kept page's CSRF token and submission key work like Django's own (the re-run below)
    visits = [other.goto(f"/backtests/{run_id}/").headers.get("x-edge-cache") for _ in range(3)]
    assert "hit" in visits, visits
    with other.expect_navigation():
        other.locator("[data-testid=rerun]").click()
    second = BacktestRun.objects.exclude(pk=run_id).get(owner=user)
    expect(panel).to_have_attribute("data-run-id", str(second.pk), timeout=30_000)
    expect(page.locator("[data-testid=signals-title]")).to_contain_text(f"#{second.pk}")
    expect(page.locator(f"#viewer-runs li[data-run-id='{second.pk}']")).to_be_visible()
    # the symbol filter
    page.locator("[data-testid=signal-symbol]").select_option("005930")
    expect(page.locator("[data-testid=signal-row]").first).to_have_attribute("data-symbol", "005930")
    other.close()


def test_the_run_page_follows_the_run_over_the_websocket(new_page, sample_market):
    user = UserFactory(email="watcher@example.com", language="en")
    run = BacktestRun.objects.create(
        owner=user, title="Held in the queue", strategy_type="sma_cross", params={"fast": 5, "slow": 20},
        codes=["005930"], start="2020-01-02", end="2024-12-30", cash=10_000_000, commission="0.00015",
        status=RunStatus.RUNNING, progress=37,
    )
    page = new_page()
    login(page, user.email)
    page.goto(f"/backtests/{run.pk}/")
    wait_live(page)
    bar = page.locator("[data-testid=progress]")
    expect(bar).to_have_attribute("aria-valuenow", "37")
    expect(page.locator("[data-testid=status-label]")).to_have_text("Running")

    # a cancel from another tab is pushed to this one, which shows the outcome without a reload by hand
    other = page.context.new_page()
    other.goto(f"/backtests/{run.pk}/")
    other.locator("[data-testid=cancel-run]").click()
    expect(page.locator("[data-testid=status-label]")).to_have_text("Cancelled", timeout=15_000)
    expect(page.locator("[data-testid=run-error]")).to_have_text("Cancelled.")
    expect(page.locator("[data-testid=rerun]")).to_be_visible()
    other.close()


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"codes": "005930 999999"}, "codes", "Unknown symbol: 999999."),
    ({"codes": "005930 035720", "start": "2015-01-02", "end": "2019-12-30"}, "codes",
     "No daily bars for 035720 between 2015-01-02 and 2019-12-30."),
    ({"start": "2020-01-02", "end": "2019-01-02"}, "end", "The end date is before the start date."),
    ({"start": "1990-01-02", "end": "1995-12-29"}, "start", "The period is outside the data"),
    ({"cash": "1000"}, "cash", "The capital is too small to buy one share of 005930"),
])
def test_each_form_error_shows_on_its_field(new_page, sample_market, changes, field, message):
    user = UserFactory(email=f"typo-{field}-{len(changes)}@example.com", language="en")
    page = new_page()
    login(page, user.email)
    fill_form(page, **changes)
    with page.expect_navigation():
        page.locator("[data-testid=run-backtest]").click()
    expect(field_error(page, field)).to_contain_text(message)
    expect(page.locator("[data-testid=form-has-errors]")).to_be_visible()
    assert not BacktestRun.objects.filter(owner=user).exists()
