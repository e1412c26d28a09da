"""Deployments API: create a draft and start it, the real-money rules (confirmation; with 2FA a
clear 403 unless the code is given), pause/resume/stop audited as the API, signals and days,
another user's deployment a 404, bad input a 400 naming the field."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import Decimal

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time

from core.audit import Actor
from core.models import AuditEntry
from coupons.tests.helpers import free_limits
from marketdata.calendars import SEOUL
from strategies.tests.factories import StrategyFactory
from trading.live import services
from trading.live.models import Deployment, DeploymentDay, DeploymentSignal, DeploymentState
from trading.models import BrokerAccount
from trading.services import broker_account_open_paper

pytestmark = pytest.mark.django_db

URL = "/api/v1/deployments/"
SECRET = "JBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _limits(db):
    free_limits(max_running_deployments=3, max_real_deployments=1, max_symbols_per_deployment=5)


def paper(user, cash=10_000_000):
    return broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname="모의계좌", cash=cash)


def real_account(user):
    return BrokerAccount.objects.create(owner=user, broker="kis", environment="real", account_no="5012345601",
                                        nickname="실전계좌", status="verified",
                                        balance_snapshot={"total_evaluation": "50000000", "positions": []})


def draft(user, account, **kwargs):
    return services.deployment_create(actor=Actor.of_user(user), strategy=StrategyFactory(owner=user),
                                      account=account, name=kwargs.pop("name", "API 배포"),
                                      capital=Decimal(kwargs.pop("capital", 3_000_000)), **kwargs)


def current_code() -> str:
    if time.time() % 30 > 27:  # never a code about to expire mid-test
        time.sleep(30 - time.time() % 30 + 0.1)
    return format_hotp_value(hotp_value(SECRET, next(yield_hotp_counters_from_time())))


def test_create_then_start_a_paper_deployment(api_client, user):
    account = paper(user)
    strategy = StrategyFactory(owner=user)
    created = api_client.post(URL, {"strategy": strategy.pk, "account": account.pk, "capital": 2_000_000,
                                    "symbols": ["005930"], "timing": "open"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["state"], body["kind"], body["symbols"], body["name"]) == ("draft", "paper", ["005930"], strategy.name)
    started = api_client.post(f"{URL}{body['id']}/start/", {}, format="json")
    assert started.status_code == 200 and started.json()["state"] == "running"
    listed = api_client.get(URL).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]


def test_bad_input_is_a_400_naming_each_field(api_client, user):
    account = paper(user)
    strategy = StrategyFactory(owner=user)
    response = api_client.post(URL, {"strategy": strategy.pk, "account": account.pk, "capital": -5,
                                     "timing": "sometimes"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"capital", "timing"}
    over = api_client.post(URL, {"strategy": strategy.pk, "account": account.pk, "capital": 90_000_000},
                           format="json")
    assert over.status_code == 400 and over.json()["error"]["code"] == "capital_over_equity"
    assert list(over.json()["error"]["fields"]) == ["capital"]
    unknown = api_client.post(URL, {"strategy": strategy.pk, "account": account.pk, "capital": 1_000_000,
                                    "symbols": ["NOPE99"]}, format="json")
    assert unknown.status_code == 400 and "NOPE99" in unknown.json()["error"]["fields"]["symbols"][0]


def test_another_users_strategy_or_account_is_a_404_on_its_field(api_client, user, other_user):
    mine, theirs = paper(user), paper(other_user)
    response = api_client.post(URL, {"strategy": StrategyFactory(owner=user).pk, "account": theirs.pk,
                                     "capital": 1_000_000}, format="json")
    assert response.status_code == 404 and list(response.json()["error"]["fields"]) == ["account"]
    response = api_client.post(URL, {"strategy": StrategyFactory(owner=other_user).pk, "account": mine.pk,
                                     "capital": 1_000_000}, format="json")
    assert response.status_code == 404 and list(response.json()["error"]["fields"]) == ["strategy"]


@pytest.mark.parametrize("method, suffix", [("get", ""), ("patch", ""), ("post", "start/"), ("post", "pause/"),
                                            ("post", "resume/"), ("post", "stop/"), ("get", "signals/"),
                                            ("get", "days/")])
def test_another_users_deployment_is_a_404(api_client, other_user, method, suffix):
    theirs = draft(other_user, paper(other_user))
    response = getattr(api_client, method)(f"{URL}{theirs.pk}/{suffix}", {}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.state == DeploymentState.DRAFT


def test_real_money_needs_the_confirmation(api_client, user):
    deployment = draft(user, real_account(user))
    refused = api_client.post(f"{URL}{deployment.pk}/start/", {}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "real_money_unconfirmed"
    assert list(refused.json()["error"]["fields"]) == ["confirm_real"]
    started = api_client.post(f"{URL}{deployment.pk}/start/", {"confirm_real": True}, format="json")
    assert started.status_code == 200 and started.json()["kind"] == "real"


def test_real_money_with_2fa_asks_for_the_web_app_unless_the_code_is_given(api_client, user):
    TOTP.activate(user, SECRET)
    deployment = draft(user, real_account(user))
    refused = api_client.post(f"{URL}{deployment.pk}/start/", {"confirm_real": True}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "second_factor_web_only"
    wrong = api_client.post(f"{URL}{deployment.pk}/start/", {"confirm_real": True, "otp_code": "000000"},
                            format="json")
    assert wrong.status_code == 400 and list(wrong.json()["error"]["fields"]) == ["otp_code"]
    started = api_client.post(f"{URL}{deployment.pk}/start/", {"confirm_real": True, "otp_code": current_code()},
                              format="json")
    assert started.status_code == 200 and started.json()["state"] == "running"


def test_pause_resume_and_stop_are_audited_through_the_api(api_client, user):
    deployment = services.deployment_start(actor=Actor.of_user(user), deployment=draft(user, paper(user)))
    assert api_client.post(f"{URL}{deployment.pk}/pause/", {"reason": "점심"}, format="json").json()["state"] == "paused"
    assert api_client.post(f"{URL}{deployment.pk}/pause/", {}, format="json").status_code == 400  # already paused
    assert api_client.post(f"{URL}{deployment.pk}/resume/", {}, format="json").json()["state"] == "running"
    stopped = api_client.post(f"{URL}{deployment.pk}/stop/", {"close_positions": True}, format="json").json()
    assert (stopped["state"], stopped["state_code"]) == ("stopped", "close_positions")
    doors = list(AuditEntry.objects.filter(object_id=str(deployment.pk), action__in=[
        "deployment.pause", "deployment.resume", "deployment.stop"]).order_by("id").values_list("action", "door"))
    assert doors == [("deployment.pause", "api"), ("deployment.resume", "api"), ("deployment.stop", "api")]


def test_patch_changes_the_settings_and_applies_the_strategy(api_client, user):
    deployment = draft(user, paper(user))
    deployment.strategy.params = {"fast": 3, "slow": 12}
    deployment.strategy.save()
    response = api_client.patch(f"{URL}{deployment.pk}/", {"capital": 4_000_000, "timing": "interval",
                                                           "interval_minutes": 15, "apply_strategy": True},
                                format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["capital"], body["timing"], body["interval_minutes"], body["params"]) == (
        "4000000", "interval", 15, {"fast": 3, "slow": 12})
    missing = api_client.patch(f"{URL}{deployment.pk}/", {"timing": "interval", "interval_minutes": None},
                               format="json")
    assert missing.status_code == 400 and list(missing.json()["error"]["fields"]) == ["interval_minutes"]
    assert Deployment.objects.get().interval_minutes == 15


def test_signals_and_days_of_a_deployment(api_client, user):
    deployment = draft(user, paper(user))
    DeploymentSignal.objects.create(deployment=deployment, decided_at=dt.datetime(2026, 3, 18, 8, 40, tzinfo=SEOUL),
                                    symbol="005930", side="buy", reason="entry", quantity_wanted=Decimal(5),
                                    verdict="trimmed", guard_code="capital_bucket", guard_message="버킷 한도",
                                    quantity=Decimal(3), outcome="ordered", intent_id=uuid.uuid4())
    DeploymentDay.objects.create(deployment=deployment, day=dt.date(2026, 3, 18), equity=Decimal(3_000_500),
                                 cash=Decimal(1_000_000), pnl=Decimal(500))
    signals = api_client.get(f"{URL}{deployment.pk}/signals/").json()["results"]
    assert [(s["symbol"], s["verdict"], s["guard_message"]) for s in signals] == [("005930", "trimmed", "버킷 한도")]
    days = api_client.get(f"{URL}{deployment.pk}/days/").json()["results"]
    assert [(d["day"], d["pnl"]) for d in days] == [("2026-03-18", "500.0000")]
