"""A user reaches a plan limit in the browser and is told which plan lifts it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from backtests.models import BacktestRun
from coupons.tests.helpers import free_limits
from marketdata.store import BarStore
from tests.e2e.helpers import choose_strategy_type, login, write_sample_market

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

SAMPLE = {"005930": ("삼성전자", "Samsung Electronics"), "035720": ("카카오", "Kakao")}


@pytest.fixture
def sample_market(market_data_root):
    store = BarStore(market_data_root)
    write_sample_market(store, SAMPLE)
    yield store
    for code in store.codes():
        store.delete(code)


def test_a_backtest_over_the_symbols_limit_names_the_plan_that_lifts_it(new_page, sample_market):
    free_limits(max_symbols_per_backtest=1)
    user = UserFactory(email="limited@example.com", language="en")
    page = new_page()
    login(page, user.email)
    page.goto("/backtests/new/")
    choose_strategy_type(page, "sma_cross")
    page.locator("input[name=codes]").fill("005930 035720")
    page.locator("input[name=start]").fill("2022-01-03")
    page.locator("input[name=end]").fill("2023-12-28")
    page.locator("input[name=cash]").fill("10000000")
    with page.expect_navigation():
        page.locator("[data-testid=run-backtest]").click()
    expect(page.locator("[data-field='codes'] [data-testid=field-error]")).to_contain_text(
        "Symbols per backtest: your plan Free allows 1. Pro allows 500.")
    assert not BacktestRun.objects.filter(owner=user).exists()
    page.goto("/plans/")
    expect(page.locator("[data-testid=current-plan]")).to_be_visible()
    expect(page.locator("[data-testid=plan-free]")).to_have_attribute("aria-current", "true")
