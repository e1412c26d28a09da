"""The dashboard in a real browser (Korean): a user's strategies and finished runs, or the empty states."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from backtests.models import BacktestRun, RunStatus
from strategies.tests.factories import StrategyFactory
from tests.e2e.helpers import login

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def _finished_run(owner, title: str, total_return: float) -> BacktestRun:
    return BacktestRun.objects.create(
        owner=owner, title=title, strategy_type="sma_cross", params={"fast": 5, "slow": 20}, codes=["005930"],
        start="2021-03-17", end="2026-03-17", cash=10_000_000, commission="0.00015", status=RunStatus.SUCCEEDED,
        progress=100, finished_at=timezone.now(), total_return=total_return, cagr=0.0731, max_drawdown=-0.2155,
        sharpe=0.87, trades=12,
    )


def test_a_user_with_strategies_and_runs_sees_them_on_the_dashboard(new_page):
    investor = UserFactory(email="investor@example.com")
    strategy = StrategyFactory(owner=investor, name="5/20 단기 골든크로스", params={"fast": 5, "slow": 20})
    runs = [_finished_run(investor, f"삼성전자 백테스트 {n}", 0.1 * n - 0.2) for n in range(6)]
    stranger = UserFactory(email="stranger@example.com")
    StrategyFactory(owner=stranger, name="남의 전략")
    _finished_run(stranger, "남의 백테스트", 0.5)

    page = new_page()
    login(page, investor.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    strategies = page.locator("[data-testid=dashboard-strategy]")
    expect(strategies).to_have_count(1)
    expect(strategies.first).to_contain_text("5/20 단기 골든크로스")
    rows = page.locator("[data-testid=dashboard-run]")
    expect(rows).to_have_count(6)
    newest = rows.first
    expect(newest).to_contain_text("삼성전자 백테스트 5")
    expect(newest.locator("[data-testid=run-total-return]")).to_have_text("+30.00%")
    expect(newest).to_contain_text("총수익률")
    expect(newest).to_contain_text("-21.55%")
    expect(page.locator("main")).not_to_contain_text("아직 전략이 없습니다")
    expect(page.locator("main")).not_to_contain_text("아직 백테스트가 없습니다")
    expect(page.locator("main")).not_to_contain_text("남의")
    expect(page.locator("[data-testid=live-events]")).to_be_visible()

    with page.expect_navigation():
        newest.get_by_role("link", name="삼성전자 백테스트 5").click()
    expect(page).to_have_url(re.compile(rf"/backtests/{runs[-1].pk}/$"))
    page.go_back()
    with page.expect_navigation():
        strategies.first.get_by_role("link", name="백테스트").click()
    expect(page).to_have_url(re.compile(rf"/backtests/new/\?strategy={strategy.pk}$"))


def test_a_fresh_user_sees_the_empty_states(new_page):
    newcomer = UserFactory(email="newcomer@example.com")
    page = new_page()
    login(page, newcomer.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.locator("[data-testid=dashboard-strategies-empty]")).to_contain_text("아직 전략이 없습니다")
    expect(page.locator("[data-testid=dashboard-runs-empty]")).to_contain_text("아직 백테스트가 없습니다")
    expect(page.locator("[data-testid=dashboard-run]")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("증권사")  # no trading placeholder
