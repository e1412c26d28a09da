"""The dashboard lists the user's own strategies and latest runs with their metrics, and nobody else's."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backtests.models import BacktestRun, RunStatus
from strategies.tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db


def _finished_run(owner, title: str, **metrics) -> BacktestRun:
    return BacktestRun.objects.create(
        owner=owner, title=title, strategy_type="sma_cross", params={"fast": 5, "slow": 20}, codes=["005930"],
        start="2020-01-02", end="2024-12-30", cash=10_000_000, commission="0.00015",
        status=RunStatus.SUCCEEDED, progress=100, finished_at=timezone.now(), **metrics,
    )


def _dashboard(client, user) -> str:
    user.language = "en"
    user.save()
    client.force_login(user)
    response = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_users_strategies_and_runs_with_their_metrics(client, user):
    strategy = StrategyFactory(owner=user, name="Alice golden cross")
    run = _finished_run(user, "Alice on Samsung", total_return=0.4213, cagr=0.0731, max_drawdown=-0.2155, sharpe=0.87)
    body = _dashboard(client, user)
    assert "Alice golden cross" in body and f"/backtests/new/?strategy={strategy.pk}" in body
    assert "Alice on Samsung" in body and f'href="/backtests/{run.pk}/"' in body
    for shown in ("+42.13%", "+7.31%", "-21.55%", "0.87"):
        assert shown in body
    assert "dashboard-strategies-empty" not in body and "dashboard-runs-empty" not in body


def test_a_queued_run_shows_its_status_instead_of_metrics(client, user):
    BacktestRun.objects.create(owner=user, title="Waiting", strategy_type="sma_cross", params={"fast": 5, "slow": 20},
                               codes=["005930"], start="2020-01-02", end="2024-12-30", cash=10_000_000,
                               commission="0.00015")
    body = _dashboard(client, user)
    assert "Waiting" in body and "status-queued" in body


def test_it_validates_ownership(client, user, other_user):
    StrategyFactory(owner=user, name="Alice golden cross")
    _finished_run(user, "Alice on Samsung", total_return=0.42)
    body = _dashboard(client, other_user)
    assert "Alice golden cross" not in body and "Alice on Samsung" not in body
    assert 'data-testid="dashboard-strategies-empty"' in body and 'data-testid="dashboard-runs-empty"' in body


def test_a_fresh_user_sees_the_empty_states_and_no_trading_placeholder(client, user):
    body = _dashboard(client, user)
    assert 'data-testid="dashboard-strategies-empty"' in body and 'data-testid="dashboard-runs-empty"' in body
    assert "No broker connected" not in body
    assert 'data-testid="live-events"' in body  # the live panel stays


def test_it_lists_the_latest_few_and_links_to_all(client, user, django_assert_max_num_queries):
    for n in range(8):
        StrategyFactory(owner=user, name=f"Strategy {n}")
        _finished_run(user, f"Run {n}", total_return=0.01 * n)
    user.language = "en"
    user.save()
    client.force_login(user)
    with django_assert_max_num_queries(15):  # no query per row
        body = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert body.count('data-testid="dashboard-run"') == 6 and body.count('data-testid="dashboard-strategy"') == 5
    assert "Show all 8 backtests" in body and "Show all 8 strategies" in body
    assert "Run 7" in body and "Run 0" not in body  # newest first
