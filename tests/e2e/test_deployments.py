"""자동매매 in the browser: the go-live wizard from the first step to a running paper deployment, and
a deployment's page showing a signal with the guard's verdict and pausing it from there.

``SHOTS_DIR=/some/dir`` also saves screenshots of the list, the wizard's steps and the deployment
page (desktop and a 390 px phone).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from core.audit import Actor
from coupons.tests.helpers import free_limits
from marketdata.calendars import SEOUL
from marketdata.store import BarStore
from strategies.tests.factories import StrategyFactory
from tests.e2e.helpers import login, watch_problems, write_sample_market
from tests.e2e.test_order_pages import DESKTOP, shoot
from trading.live import services
from trading.live.models import Deployment, DeploymentDay, DeploymentSignal, DeploymentState
from trading.orders.models import Position
from trading.paper.tests.conftest import open_paper_account

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def problems(page) -> list[str]:
    """Policy violations and script errors of the tab."""
    found = watch_problems(page, [], console=False)
    yield found
    assert found == [], "\n".join(found)


@pytest.fixture
def samsung(market_data_root):
    store = BarStore(market_data_root)
    write_sample_market(store, {"005930": ("삼성전자", "Samsung Electronics"),
                                "000660": ("SK하이닉스", "SK hynix")})
    try:
        yield store
    finally:
        for code in store.codes():
            store.delete(code)


def test_the_wizard_takes_a_strategy_live_on_paper(page, samsung, problems):
    free_limits(max_running_deployments=3, max_real_deployments=1, max_symbols_per_deployment=5)
    user = UserFactory(email="deploy.wizard@example.com")
    StrategyFactory(owner=user, name="골든크로스", codes=["005930", "000660"])
    paper = open_paper_account(user, nickname="연습 계좌", cash=10_000_000)
    page.set_viewport_size(DESKTOP)
    login(page, user.email)

    page.goto("/trading/deployments/")
    expect(page.get_by_test_id("no-deployments")).to_be_visible()
    page.get_by_test_id("go-live").click()
    expect(page.locator(f"input[name=account][value='{paper.pk}']")).to_be_checked()  # paper first
    shoot(page, "wizard-1")
    page.get_by_test_id("wizard-next").click()

    expect(page.get_by_test_id("wizard-step-2")).to_be_visible()
    expect(page.locator("input[name=interval_minutes]")).to_be_hidden()  # only for "every N minutes"
    page.locator("input[name=capital]").fill("20000000")  # more than the account holds
    page.get_by_test_id("wizard-review").click()
    expect(page.locator("[data-field=capital] [data-testid=field-error]")).to_contain_text("10,000,000")
    page.locator("input[name=capital]").fill("4000000")
    page.locator("input[name=name]").fill("연습 자동매매")
    shoot(page, "wizard-2")
    page.get_by_test_id("wizard-review").click()

    expect(page.get_by_test_id("wizard-step-3")).to_be_visible()
    expect(page.get_by_test_id("paper-note")).to_be_visible()
    expect(page.locator("input[name=confirm_real]")).to_have_count(0)  # paper needs no confirmation
    expect(page.get_by_test_id("review-capital")).to_have_text("4,000,000 KRW")
    shoot(page, "wizard-3")
    page.get_by_test_id("wizard-start").click()

    expect(page).to_have_url(re.compile(r"/trading/deployments/\d+/$"))
    expect(page.get_by_test_id("deployment-state")).to_have_attribute("data-state", "running")
    expect(page.get_by_test_id("money-kind")).to_have_attribute("data-kind", "paper")
    deployment = Deployment.objects.get(owner=user)
    assert (deployment.name, deployment.capital, deployment.state) == ("연습 자동매매", 4_000_000, "running")
    page.goto("/trading/deployments/")
    expect(page.get_by_test_id("deployment-row")).to_have_count(1)
    shoot(page, "list")


def test_the_deployment_page_shows_the_guards_verdict_and_pauses(page, samsung, problems):
    free_limits(max_running_deployments=3, max_real_deployments=1, max_symbols_per_deployment=5)
    user = UserFactory(email="deploy.page@example.com")
    account = open_paper_account(user, nickname="연습 계좌", cash=10_000_000)
    strategy = StrategyFactory(owner=user, name="추세 추종", codes=["005930", "000660"])
    deployment = services.deployment_create(actor=Actor.of_user(user), strategy=strategy, account=account,
                                            name="추세 자동매매", capital=Decimal(5_000_000))
    deployment = services.deployment_start(actor=Actor.of_user(user), deployment=deployment)
    decided = dt.datetime(2026, 3, 17, 8, 40, tzinfo=SEOUL)
    for symbol, values in [("005930", {"verdict": "trimmed", "guard_code": "capital_bucket", "quantity": 10,
                                       "guard_message": "자본 버킷 한도 안으로 줄였습니다.", "outcome": "ordered"}),
                           ("000660", {"verdict": "blocked", "guard_code": "max_symbol_share", "quantity": 0,
                                       "guard_message": "한 종목 비중 한도(20%)를 넘습니다.", "outcome": "blocked"})]:
        DeploymentSignal.objects.create(deployment=deployment, decided_at=decided, symbol=symbol, side="buy",
                                        reason="entry", price=Decimal(190_000), quantity_wanted=Decimal(14),
                                        intent_id=uuid.uuid4(), **values)
    Position.objects.create(account=account, symbol="005930", quantity=Decimal(10), cost=Decimal(1_900_000))
    for offset, equity in enumerate([5_000_000, 5_030_000, 4_990_000, 5_080_000]):
        DeploymentDay.objects.create(deployment=deployment, day=dt.date(2026, 3, 11) + dt.timedelta(days=offset),
                                     equity=Decimal(equity), cash=Decimal(3_100_000))
    page.set_viewport_size(DESKTOP)
    login(page, user.email)

    page.goto(f"/trading/deployments/{deployment.pk}/")
    blocked = page.locator("[data-testid=signal-row][data-symbol='000660']")
    expect(blocked).to_have_attribute("data-verdict", "blocked")
    expect(blocked.get_by_test_id("signal-verdict")).to_have_class(re.compile(r"\bverdict-blocked\b"))
    expect(blocked.get_by_test_id("guard-message")).to_have_text("한 종목 비중 한도(20%)를 넘습니다.")
    trimmed = page.locator("[data-testid=signal-row][data-symbol='005930']")
    expect(trimmed).to_have_attribute("data-verdict", "trimmed")
    expect(page.locator("[data-testid=position][data-symbol='005930']")).to_be_visible()
    expect(page.get_by_test_id("equity-chart")).to_have_attribute("data-chart-ready", "1")
    shoot(page, "deployment")

    # a replayed day (or the close's summary) arrives as the deployment's event: the curve redraws
    DeploymentDay.objects.create(deployment=deployment, day=dt.date(2026, 3, 16), equity=Decimal(5_120_000),
                                 cash=Decimal(3_100_000))
    page.evaluate("""(id) => document.dispatchEvent(new CustomEvent("live:event", {detail: {
        event: "deployment.replay_day", payload: {id: id}}}))""", deployment.pk)
    expect(page.get_by_test_id("equity-section")).to_have_attribute("data-last-day", "2026-03-16")
    expect(page.get_by_test_id("equity-chart")).to_have_attribute("data-chart-ready", "1")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("deployment-state")).to_have_attribute("data-state", "paused")
    expect(page.get_by_test_id("resume")).to_be_visible()
    deployment.refresh_from_db()
    assert deployment.state == DeploymentState.PAUSED


def test_a_replay_plays_in_the_browser_signals_orders_fills_positions_and_pnl_arrive_live(page, market_data_root,
                                                                                         settings, problems):
    from trading.live.tests import replay_scenario

    settings.MARKET_DATA_ROOT = market_data_root  # the bars go where the server reads them
    user = UserFactory(email="deploy.replay@example.com")
    deployment = replay_scenario.month_deployment(user, history_from=replay_scenario.bars_from(8))
    Deployment.objects.filter(pk=deployment.pk).update(replay_end=dt.date(2026, 4, 14))  # ten trading days
    try:
        page.set_viewport_size(DESKTOP)
        login(page, user.email)
        page.goto(f"/trading/deployments/{deployment.pk}/")
        expect(page.get_by_test_id("replay-note")).to_be_visible()
        expect(page.get_by_test_id("position")).to_have_count(0)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("start").click()

        # no reload from here on: the replayed days arrive over the user's websocket
        expect(page.get_by_test_id("replayed-to")).to_contain_text("2026-04-14", timeout=30_000)
        expect(page.get_by_test_id("position").first).to_be_visible()
        expect(page.get_by_test_id("signal-row").first).to_be_visible()
        expect(page.get_by_test_id("deployment-orders").locator("tr").first).to_be_visible()
        expect(page.get_by_test_id("equity-chart")).to_have_attribute("data-chart-ready", "1")
        assert page.get_by_test_id("open-positions").inner_text() != "0"
        expect(page.locator("[data-live-price]")).to_have_count(0)  # a replay's prices are its replayed day's
        shoot(page, "replay-played")
    finally:
        for code in replay_scenario.SYMBOLS:
            BarStore(market_data_root).delete(code)
    deployment.refresh_from_db()
    assert deployment.state == DeploymentState.STOPPED  # the replay ended with its window
    assert DeploymentDay.objects.filter(deployment=deployment).count() == 10
