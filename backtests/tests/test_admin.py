import pytest
from django.test import Client

from backtests import services, validation
from backtests.models import BacktestRun, RunStatus
from accounts.tests.factories import UserFactory

import datetime as dt


@pytest.fixture
def operator(db):
    return UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(operator, settings) -> Client:
    settings.ADMIN_REQUIRE_2FA = False
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def runs(user, sample_market, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr("backtests.services._enqueue", lambda run_id: None)
    spec = validation.backtest_spec_check(strategy_type="sma_cross", params={}, codes="005930",
                                          start=dt.date(2020, 1, 1), end=dt.date(2024, 12, 31), cash=10_000_000)
    queued = services.backtest_start(user=user, spec=spec, title="queued one")
    failed = services.backtest_start(user=user, spec=spec, title="failed one")
    BacktestRun.objects.filter(pk=failed.pk).update(status=RunStatus.FAILED, error="The worker stopped while running")
    return queued, failed


def test_changelist_filters_by_status_and_type_and_shows_errors(admin_client, runs):
    response = admin_client.get("/admin/backtests/backtestrun/", {"status": "failed"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "failed one" in body and "queued one" not in body
    assert "The worker stopped while running" in body
    response = admin_client.get("/admin/backtests/backtestrun/", {"strategy_type": "rsi_reversion"})
    assert "failed one" not in response.content.decode()
    response = admin_client.get("/admin/backtests/backtestrun/", {"q": "alice@example.com"})
    assert "queued one" in response.content.decode()


def test_cancel_and_rerun_actions_go_through_the_services(admin_client, runs):
    queued, failed = runs
    admin_client.post("/admin/backtests/backtestrun/", {"action": "cancel", "_selected_action": [queued.pk]})
    queued.refresh_from_db()
    assert queued.status == RunStatus.CANCELLED
    admin_client.post("/admin/backtests/backtestrun/", {"action": "rerun", "_selected_action": [failed.pk]})
    again = BacktestRun.objects.exclude(pk__in=[queued.pk, failed.pk]).get()
    assert again.status == RunStatus.QUEUED and again.owner == failed.owner and again.params == failed.params
