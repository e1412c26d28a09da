"""주문 and 잔고 in the browser: place a paper order and a (fake) KIS mock order from the ticket,
watch them appear and change state live in another tab, a fill arriving, cancel one, see the
position and P&L, pull and release a kill switch.

The trading clock of the server is pinned to a normal KRX morning (``server_clock``), the fake
KIS's clock with it. The fills reach the ledger the way they do in production: the server's
reconciliation job, asked from the 잔고 page ("Check with the broker now").

``SHOTS_DIR=/some/dir`` also saves screenshots of each page (desktop and a 390 px phone).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from marketdata.calendars import SEOUL
from marketdata.store import BarStore
from tests.e2e.helpers import login, watch_problems, write_sample_market
from trading.models import BrokerAccount
from trading.orders.models import Order
from trading.paper.tests.conftest import open_paper_account

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

# Wednesday 2026-03-18, 10:00 in Seoul: continuous trading; the sample bars end the day before
# (005930 closed at 193,900 on 2026-03-17)
MORNING = dt.datetime(2026, 3, 18, 10, 0, tzinfo=SEOUL)
KEY, SECRET = "PSorders0key" + "o" * 24, "orders-secret-" + "p" * 166
ACCOUNT_NO = "70000077-01"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def shoot(page, name: str) -> None:
    """Screenshots for a person to look at (desktop and phone), when SHOTS_DIR names a folder."""
    folder = os.environ.get("SHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=f"{folder}/{name}-{label}.png", full_page=True)
    page.set_viewport_size(DESKTOP)


@pytest.fixture
def market(market_data_root, fake_kis_server, server_clock):
    """The trading clock (server and test process) at MORNING, the fake KIS's with it; 005930's bars."""
    store = BarStore(market_data_root)
    write_sample_market(store, {"005930": ("삼성전자", "Samsung Electronics")})
    shift = MORNING.timestamp() - time.time()
    server_clock.set_to(MORNING)
    fake_kis_server.advance(shift)
    fake_kis_server.set_price("005930", 193_900, prev_close=193_900, name="삼성전자")
    try:
        yield store
    finally:
        fake_kis_server.advance(-shift)
        for code in store.codes():
            store.delete(code)


@pytest.fixture
def problems() -> list[str]:
    """Policy violations and script errors of the tabs (answers such as a refusal's 400 are expected)."""
    found: list[str] = []
    yield found
    assert found == []


def two_tabs(new_page, user, problems: list[str]):
    """Two signed-in tabs of ``user``: one watches the order list, the other acts."""
    watcher, actor = new_page(), new_page()
    for page in (watcher, actor):
        watch_problems(page, problems, console=True)
        page.set_viewport_size(DESKTOP)
        login(page, user.email)
    watcher.goto("/trading/orders/")
    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "open")
    watcher.evaluate("() => { window.stayedOnPage = true; }")  # a reload would forget it
    return watcher, actor


def still_the_same_page(page) -> None:
    assert page.evaluate("() => window.stayedOnPage === true"), "the list reloaded instead of updating live"


def fill_ticket(page, account: BrokerAccount, *, quantity: int, market_order: bool = False,
                ticks: int = 0) -> None:
    """Ticket: the account, 005930 through the search, limit (last price moved ``ticks``) or market."""
    page.goto("/trading/orders/new/")
    page.locator("select[name=account]").select_option(str(account.pk))
    page.get_by_test_id("symbol-input").fill("삼성")
    page.locator("[data-pick-symbol='005930']").click()
    expect(page.get_by_test_id("last-price")).to_have_text("193,900")
    expect(page.locator("input[name=price]")).to_have_value("193900")
    for _ in range(abs(ticks)):
        page.get_by_test_id("tick-up" if ticks > 0 else "tick-down").click()
    if market_order:
        page.get_by_test_id("order_type-market").click()
        expect(page.locator("input[name=price]")).to_be_hidden()
    page.locator("input[name=quantity]").fill(str(quantity))


def row_of(page, order: Order):
    return page.locator(f"[data-testid=order-row][data-order-id='{order.pk}']")


def test_a_paper_order_appears_and_fills_live_and_its_position_shows_the_pnl(new_page, market, problems):
    user = UserFactory(email="orders.paper@example.com")
    account = open_paper_account(user, nickname="연습 계좌")
    watcher, actor = two_tabs(new_page, user, problems)
    expect(watcher.get_by_test_id("no-orders")).to_be_visible()

    fill_ticket(actor, account, quantity=5, ticks=1)
    expect(actor.locator("input[name=price]")).to_have_value("194000")  # one KRX tick (100) up
    actor.get_by_test_id("tick-down").click()
    actor.get_by_test_id("tick-down").click()
    expect(actor.locator("input[name=price]")).to_have_value("193800")
    actor.get_by_test_id("mode-amount").click()
    actor.locator("input[name=amount]").fill("1000000")  # 5 × 193,800 and the commission fit, 6 do not
    expect(actor.get_by_test_id("amount-quantity")).to_have_text(re.compile(r"\b5\b.*193,800|193,800.*\b5\b"))
    actor.get_by_test_id("mode-quantity").click()
    expect(actor.locator("input[name=amount]")).to_be_hidden()
    actor.get_by_test_id("order_type-market").click()
    shoot(actor, "ticket")
    actor.get_by_test_id("review-order").click()
    expect(actor.get_by_test_id("estimate")).to_contain_text("969,500")  # 5 × 193,900
    expect(actor.get_by_test_id("estimate-commission")).to_have_text("145")  # 0.015 %, rounded down
    shoot(actor, "confirm")
    actor.get_by_test_id("place-order").click()
    expect(actor).to_have_url(re.compile(r"/trading/orders/\d+/$"))
    order = Order.objects.get(account=account)
    assert (order.quantity, order.order_type, order.price) == (5, "market", None)

    row = row_of(watcher, order)
    expect(row).to_have_attribute("data-state", "accepted")  # new → submitting → accepted, pushed
    actor.goto(f"/trading/positions/?account={account.pk}")
    actor.get_by_test_id("reconcile-now").click()  # the server's reconciliation reads the paper book
    expect(row).to_have_attribute("data-state", "filled")
    expect(row.get_by_test_id("order-filled")).to_have_text("5")
    still_the_same_page(watcher)
    shoot(watcher, "orders")

    actor.goto(f"/trading/positions/?account={account.pk}")
    position = actor.locator("[data-testid=position][data-symbol='005930']")
    expect(position.get_by_test_id("position-quantity")).to_have_text("5")
    expect(position.get_by_test_id("position-average")).to_have_text("193,900")
    expect(position.get_by_test_id("position-today")).to_have_text("-145")  # bought at the price: the commission
    expect(position.get_by_test_id("position-today")).to_have_class(re.compile(r"\bdown\b"))
    expect(actor.get_by_test_id("fill-row")).to_have_count(1)
    shoot(actor, "positions")
    actor.goto(f"/trading/orders/{order.pk}/")
    expect(actor.get_by_test_id("timeline-fill")).to_have_count(1)
    expect(actor.locator("[data-testid=timeline-event][data-to-state=filled]")).to_have_count(1)
    shoot(actor, "order")


def test_a_kis_mock_order_fills_live_and_another_is_cancelled(new_page, market, fake_kis_server, problems):
    fake_kis_server.add_account(KEY, SECRET, ACCOUNT_NO, hts_id="orderhts", environment="mock", cash=5_000_000)
    user = UserFactory(email="orders.kis@example.com")
    account = BrokerAccount(owner=user, broker="kis", environment="mock", account_no=ACCOUNT_NO.replace("-", ""),
                            hts_id="orderhts", nickname="한투 모의", status="verified",
                            balance_snapshot={"orderable_cash": "5000000", "deposit": "5000000", "positions": []},
                            balance_at=MORNING)
    account.set_keys(app_key=KEY, app_secret=SECRET)
    account.save()
    watcher, actor = two_tabs(new_page, user, problems)

    fill_ticket(actor, account, quantity=2, ticks=-1)
    shoot(actor, "ticket-limit")
    actor.get_by_test_id("review-order").click()
    actor.get_by_test_id("place-order").click()
    expect(actor).to_have_url(re.compile(r"/trading/orders/\d+/$"))
    bought = Order.objects.get(account=account)
    expect(row_of(watcher, bought)).to_have_attribute("data-state", "accepted")
    bought.refresh_from_db()
    assert bought.broker_order_no and [o.odno for o in fake_kis_server.orders(KEY)] == [bought.broker_order_no]

    fake_kis_server.fill(bought.broker_order_no, 2)  # the broker fills it; the ledger learns from its listing
    actor.goto(f"/trading/positions/?account={account.pk}")
    actor.get_by_test_id("reconcile-now").click()
    expect(row_of(watcher, bought)).to_have_attribute("data-state", "filled")

    fill_ticket(actor, account, quantity=1, ticks=-10)
    actor.get_by_test_id("review-order").click()
    actor.get_by_test_id("place-order").click()
    resting = Order.objects.filter(account=account).exclude(pk=bought.pk).get()
    row = row_of(watcher, resting)
    expect(row).to_have_attribute("data-state", "accepted")
    watcher.once("dialog", lambda dialog: dialog.accept())
    row.get_by_test_id("cancel-order").click()
    expect(row_of(watcher, resting)).to_have_attribute("data-state", "cancelled")
    shoot(watcher, "orders-kis")

    actor.goto(f"/trading/positions/?account={account.pk}")
    position = actor.locator("[data-testid=position][data-symbol='005930']")
    expect(position.get_by_test_id("position-quantity")).to_have_text("2")
    expect(position.get_by_test_id("position-average")).to_have_text("193,800")
    expect(position.get_by_test_id("position-unrealized")).to_have_text("+200")  # 2 × (193,900 − 193,800)
    expect(position.get_by_test_id("position-unrealized")).to_have_class(re.compile(r"\bup\b"))
    assert len([o for o in fake_kis_server.orders(KEY) if not o.cancel_row]) == 2  # one broker order per ticket


def test_pull_and_release_a_kill_switch(new_page, market, problems):
    user = UserFactory(email="orders.kill@example.com")
    account = open_paper_account(user, nickname="연습 계좌")
    watcher, actor = two_tabs(new_page, user, problems)

    actor.goto("/trading/kill-switches/")
    card = actor.get_by_test_id(f"switch-{account.pk}")
    card.get_by_test_id("switch-reason").fill("변동성이 너무 큼")
    actor.once("dialog", lambda dialog: dialog.accept())
    card.get_by_test_id("switch-pull").click()
    expect(actor.get_by_test_id(f"switch-{account.pk}")).to_have_attribute("data-on", "1")
    expect(watcher.get_by_test_id("kill-banner")).to_be_visible()  # pushed to the other tab
    shoot(actor, "kill-switches")

    fill_ticket(actor, account, quantity=1)
    actor.get_by_test_id("review-order").click()
    expect(actor.get_by_test_id("form-error")).to_be_visible()
    assert not Order.objects.exists()
    shoot(actor, "ticket-refused")

    actor.goto("/trading/kill-switches/")
    actor.get_by_test_id(f"switch-{account.pk}").get_by_test_id("switch-release").click()
    expect(actor.get_by_test_id(f"switch-{account.pk}")).to_have_attribute("data-on", "0")
    expect(watcher.get_by_test_id("kill-banner")).to_have_count(0)
    still_the_same_page(watcher)
