"""The scheduled connection check and broker outages: many accounts failing on the broker's side at
once limit trading through that broker (banner, orders refused) until a check finds it working."""

from __future__ import annotations

import pytest

from core.audit import Actor
from core.errors import ApplicationError
from trading import health, services
from trading.brokers.base import Refused, UnknownOutcome
from trading.models import AccountStatus, BrokerAccount
from trading.tests.conftest import SECRET

pytestmark = pytest.mark.django_db


def _accounts(users, fake_kis, count=3):
    accounts = []
    for index in range(count):
        key = f"PSkey{index:02d}" + "q" * 29
        account_no = f"6000000{index}01"
        fake_kis.server.add_account(key, SECRET, account_no, environment="mock", cash=1_000_000)
        accounts.append(services.broker_account_connect(
            actor=Actor.of_user(users[index % len(users)]), owner=users[index % len(users)], broker="kis",
            environment="mock", account_no=account_no, app_key=key, app_secret=SECRET, nickname=f"acct {index}"))
    return accounts


def test_a_broker_down_for_most_accounts_limits_trading_then_recovers(client, user, other_user, fake_kis, settings):
    _accounts([user, other_user], fake_kis)
    settings.BROKER_KIS_MOCK_URL = "http://127.0.0.1:9"  # the broker stops answering
    totals = services.broker_accounts_check()
    assert totals == {"checked": 3, "failed": 3}
    assert health.limited("kis", "mock") is not None
    with pytest.raises(ApplicationError) as refused:
        health.broker_trading_check(broker="kis", environment="mock")
    assert refused.value.code == "broker_limited"
    client.force_login(user)
    client.cookies["lang"] = "en"
    assert "Trading through Korea Investment" in client.get("/trading/").content.decode()

    settings.BROKER_KIS_MOCK_URL = fake_kis.server.url  # back
    services.broker_accounts_check()
    assert health.limited("kis", "mock") is None
    health.broker_trading_check(broker="kis", environment="mock")  # no longer raises
    assert "Trading through" not in client.get("/trading/").content.decode()


def test_bad_credentials_of_single_accounts_never_mark_an_outage(user, fake_kis):
    accounts = _accounts([user], fake_kis)
    for account in accounts:
        fake_kis.server.book.accounts[account.credentials().app_key].app_secret = "rotated elsewhere"
    fake_kis.server.advance(25 * 3600)
    services.broker_accounts_check()
    assert set(BrokerAccount.objects.values_list("status", flat=True)) == {AccountStatus.FAILED}
    assert health.limited("kis", "mock") is None


def test_an_outage_needs_the_minimum_number_of_accounts():
    errors = [UnknownOutcome("timeout", code="timeout"), Refused("x", code="unreachable", retryable=True)]
    assert health.record_check(broker="kiwoom", environment="real", errors=errors) is False
    assert health.record_check(broker="kiwoom", environment="real", errors=[*errors, errors[0], None]) is True


def test_disabled_accounts_are_not_checked(user, fake_kis):
    account = _accounts([user], fake_kis, count=1)[0]
    services.broker_account_set_disabled(actor=Actor.of_user(user), account=account, disabled=True)
    assert services.broker_accounts_check() == {"checked": 0, "failed": 0}
