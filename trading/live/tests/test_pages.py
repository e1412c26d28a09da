"""Deployment pages: the list labels paper and real money, the go-live wizard (paper needs no
confirmation; real money is refused without it, on its field, with nothing lost), the deployment
page shows each signal with the guard's verdict, the controls are audited, another user's
deployment is a 404."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

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


@pytest.fixture(autouse=True)
def _limits(db):
    free_limits(max_running_deployments=3, max_real_deployments=1, max_symbols_per_deployment=5)


def paper(user, cash=10_000_000):
    return broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname="모의계좌", cash=cash)


def real_account(user, equity="50000000"):
    return BrokerAccount.objects.create(owner=user, broker="kis", environment="real", account_no="5012345601",
                                        nickname="실전계좌", status="verified",
                                        balance_snapshot={"total_evaluation": equity, "positions": []})


def running(user, account, *, name="모멘텀", capital=3_000_000, **kwargs):
    strategy = kwargs.pop("strategy", None) or StrategyFactory(owner=user)
    deployment = services.deployment_create(actor=Actor.of_user(user), strategy=strategy, account=account, name=name,
                                            capital=Decimal(capital), **kwargs)
    return services.deployment_start(actor=Actor.of_user(user), deployment=deployment, confirm_real=True)


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def wizard_post(client, **fields):
    return client.post(reverse("trading:deployment_new"), fields)


# -- the list ------------------------------------------------------------------------------------
def test_the_list_labels_paper_and_real_money_with_state_and_reason(signed_in, user):
    running(user, paper(user), name="페이퍼")
    real = running(user, real_account(user), name="실전")
    services.deployment_pause(actor=Actor.of_user(user), deployment=real, reason="휴가 중")
    page = signed_in.get(reverse("trading:deployment_list")).content.decode()
    assert 'data-kind="paper"' in page and 'data-kind="real"' in page
    assert "페이퍼" in page and "실전" in page and "휴가 중" in page
    assert page.count('data-testid="deployment-row"') == 2


def test_the_list_shows_only_the_users_own_deployments(signed_in, user, other_user):
    running(other_user, paper(other_user), name="남의것")
    page = signed_in.get(reverse("trading:deployment_list")).content.decode()
    assert "남의것" not in page and 'data-testid="no-deployments"' in page


# -- the wizard ----------------------------------------------------------------------------------
def test_the_wizard_preselects_the_paper_account_and_starts_a_paper_deployment(signed_in, user):
    real_account(user)
    account = paper(user)
    strategy = StrategyFactory(owner=user)
    first = signed_in.get(reverse("trading:deployment_new")).content.decode()
    assert f'value="{account.pk}" checked' in first  # paper first, although the real account is older
    step2 = wizard_post(signed_in, step="2", strategy=strategy.pk, account=account.pk)
    assert step2.status_code == 200 and "005930 000660" in step2.content.decode().replace("000660 005930",
                                                                                           "005930 000660")
    setup = {"strategy": strategy.pk, "account": account.pk, "setup_for": f"{strategy.pk}:{account.pk}",
             "name": "첫 배포", "capital": "2000000", "symbols": "005930", "timing": "open"}
    review = wizard_post(signed_in, step="3", **setup).content.decode()
    assert 'data-testid="paper-note"' in review and 'name="confirm_real"' not in review
    assert not Deployment.objects.exists()  # the review checked with the services, kept nothing
    done = wizard_post(signed_in, step="start", **setup)
    deployment = Deployment.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("trading:deployment_detail", args=[deployment.pk])
    assert deployment.state == DeploymentState.RUNNING and deployment.symbols == ["005930"]
    assert not deployment.real_money and deployment.capital == 2_000_000


def test_the_wizard_refuses_real_money_without_the_confirmation_and_keeps_every_field(signed_in, user):
    account = real_account(user)
    strategy = StrategyFactory(owner=user)
    setup = {"strategy": strategy.pk, "account": account.pk, "setup_for": f"{strategy.pk}:{account.pk}",
             "name": "진짜 돈", "capital": "7000000", "symbols": "005930 000660", "timing": "close"}
    review = wizard_post(signed_in, step="3", **setup).content.decode()
    assert 'name="confirm_real"' in review and 'data-testid="real-money-box"' in review
    refused = wizard_post(signed_in, step="start", **setup)
    page = refused.content.decode()
    assert refused.status_code == 400 and not Deployment.objects.exists()
    assert 'data-testid="wizard-step-3"' in page and "confirm that you want it to place real orders" in page
    for value in ("7000000", "005930 000660", "진짜 돈", "close"):
        assert f'value="{value}"' in page  # carried along: nothing typed is lost
    started = wizard_post(signed_in, step="start", confirm_real="on", **setup)
    assert started.status_code == 302
    deployment = Deployment.objects.get()
    assert deployment.real_money and deployment.state == DeploymentState.RUNNING and deployment.confirmed_real_at


def test_the_wizard_puts_a_capital_refusal_on_the_capital_field_of_step_two(signed_in, user):
    account = paper(user, cash=1_000_000)
    strategy = StrategyFactory(owner=user)
    page = wizard_post(signed_in, step="3", strategy=strategy.pk, account=account.pk,
                       setup_for=f"{strategy.pk}:{account.pk}", name="", capital="5000000", symbols="005930",
                       timing="open")
    text = page.content.decode()
    assert page.status_code == 400 and 'data-testid="wizard-step-2"' in text
    assert 'data-field="capital"' in text and "at most 1,000,000 KRW is left" in text


def test_the_wizard_offers_only_the_users_own_strategies_and_accounts(signed_in, user, other_user):
    theirs = StrategyFactory(owner=other_user)
    their_account = paper(other_user)
    page = wizard_post(signed_in, step="2", strategy=theirs.pk, account=their_account.pk)
    assert page.status_code == 400 and 'data-testid="wizard-step-1"' in page.content.decode()


# -- one deployment --------------------------------------------------------------------------------
def signal(deployment, symbol="005930", **values):
    decided = dt.datetime(2026, 3, 18, 8, 40, tzinfo=SEOUL)
    return DeploymentSignal.objects.create(deployment=deployment, decided_at=decided, symbol=symbol, side="buy",
                                           reason="entry", price=Decimal(70000), quantity_wanted=Decimal(10),
                                           intent_id=uuid.uuid4(), **values)


def test_the_page_shows_each_signal_with_the_guards_verdict_and_message(signed_in, user):
    deployment = running(user, paper(user))
    signal(deployment, "005930", quantity=Decimal(10), verdict="passed", outcome="ordered")
    signal(deployment, "000660", verdict="blocked", guard_code="max_symbol_share",
           guard_message="한 종목 비중 한도(20%)를 넘습니다.", outcome="blocked")
    page = signed_in.get(reverse("trading:deployment_detail", args=[deployment.pk])).content.decode()
    assert page.count('data-testid="signal-row"') == 2
    assert 'data-verdict="blocked"' in page and "한 종목 비중 한도(20%)를 넘습니다." in page
    assert 'data-testid="pause"' in page and 'data-testid="resume"' not in page


def test_the_tables_escape_what_the_guard_wrote_and_link_each_signals_order(signed_in, user):
    from trading.orders.models import Order

    account = paper(user)
    deployment = running(user, account)
    order = Order.objects.create(owner=user, account=account, symbol="005930", side="buy", quantity=10,
                                 price=70_000, state="rejected", reject_reason="주문가능금액 부족")
    signal(deployment, "005930", quantity=Decimal(10), verdict="trimmed", guard_message="<b>비중</b> 한도",
           outcome="ordered", order=order)
    page = signed_in.get(reverse("trading:deployment_detail", args=[deployment.pk])).content.decode()
    assert "&lt;b&gt;비중&lt;/b&gt; 한도" in page and "<b>비중</b>" not in page
    order_url = reverse("trading:order_detail", args=[order.pk])
    assert f'<a href="{order_url}" data-testid="signal-order">' in page
    assert f'data-testid="order-row" data-order-id="{order.pk}" data-state="rejected"' in page
    assert page.count(f'href="{order_url}"') == 2  # the signal's link and the orders table's
    assert '<time datetime="2026-03-18T08:40:00+09:00">03-18 08:40</time>' in page


def test_the_page_says_why_the_runner_did_not_act_and_labels_the_curve(signed_in, user):
    deployment = running(user, paper(user))
    Deployment.objects.filter(pk=deployment.pk).update(data_note="Bars of 005930 end on 2026-03-13: stale data.")
    DeploymentDay.objects.create(deployment=deployment, day=dt.date(2026, 3, 17), equity=Decimal(3_010_000),
                                 cash=Decimal(3_010_000))
    page = signed_in.get(reverse("trading:deployment_detail", args=[deployment.pk])).content.decode()
    assert 'data-testid="data-note"' in page and "stale data" in page
    assert 'id="deployment-curve"' in page and "2026-03-17" in page
    assert 'data-testid="curve-note"' in page


def test_the_page_names_the_deployment_that_owns_a_blocked_symbol(signed_in, user):
    account = paper(user)
    running(user, account, name="먼저")
    second = running(user, account, name="나중", strategy=StrategyFactory(owner=user, codes=["005930", "005380"]))
    page = signed_in.get(reverse("trading:deployment_detail", args=[second.pk])).content.decode()
    assert 'data-testid="claims-blocked"' in page and "먼저" in page


@pytest.mark.parametrize("name", ["trading:deployment_detail", "trading:deployment_edit"])
def test_another_users_deployment_is_a_404(signed_in, other_user, name):
    theirs = running(other_user, paper(other_user))
    assert signed_in.get(reverse(name, args=[theirs.pk])).status_code == 404


@pytest.mark.parametrize("action", ["pause", "stop", "resume", "start"])
def test_another_user_cannot_control_a_deployment(signed_in, other_user, action):
    theirs = running(other_user, paper(other_user))
    assert signed_in.post(reverse(f"trading:deployment_{action}", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == DeploymentState.RUNNING


def test_pause_resume_and_stop_are_audited_as_the_user_on_the_web(signed_in, user):
    deployment = running(user, paper(user))
    for action, data, state in [("pause", {"reason": "지켜보기"}, "paused"), ("resume", {}, "running"),
                                ("stop", {"close_positions": "on"}, "stopped")]:
        response = signed_in.post(reverse(f"trading:deployment_{action}", args=[deployment.pk]), data)
        assert response.status_code == 302
        deployment.refresh_from_db()
        assert deployment.state == state
    assert deployment.state_code == "close_positions"
    entries = AuditEntry.objects.filter(object_type="trading.deployment", object_id=str(deployment.pk),
                                        action__in=["deployment.pause", "deployment.resume", "deployment.stop"])
    assert [(e.action, e.actor_id, e.door) for e in entries.order_by("id")] == [
        ("deployment.pause", user.pk, "web"), ("deployment.resume", user.pk, "web"), ("deployment.stop", user.pk, "web")]
    assert entries.get(action="deployment.pause").reason == "지켜보기"


def test_resuming_real_money_asks_for_the_confirmation_on_its_field(signed_in, user):
    deployment = running(user, real_account(user))
    services.deployment_pause(actor=Actor.of_user(user), deployment=deployment)
    refused = signed_in.post(reverse("trading:deployment_resume", args=[deployment.pk]))
    assert refused.status_code == 400 and "confirm that you want it to place real orders" in refused.content.decode()
    deployment.refresh_from_db()
    assert deployment.state == DeploymentState.PAUSED
    signed_in.post(reverse("trading:deployment_resume", args=[deployment.pk]), {"confirm_real": "on"})
    deployment.refresh_from_db()
    assert deployment.state == DeploymentState.RUNNING


def test_the_edit_form_changes_only_what_changed_and_applies_the_strategy(signed_in, user):
    deployment = running(user, paper(user))
    strategy = deployment.strategy
    strategy.params = {"fast": 5, "slow": 20}
    strategy.save()
    page = signed_in.get(reverse("trading:deployment_detail", args=[deployment.pk])).content.decode()
    assert 'data-testid="strategy-changed"' in page
    response = signed_in.post(reverse("trading:deployment_edit", args=[deployment.pk]), {
        "name": deployment.name, "capital": "4000000", "symbols": "005930", "timing": "interval",
        "interval_minutes": "30", "apply_strategy": "on"})
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert (deployment.capital, deployment.symbols, deployment.timing, deployment.interval_minutes) == (
        4_000_000, ["005930"], "interval", 30)
    assert deployment.params == {"fast": 5, "slow": 20}
    update = AuditEntry.objects.get(action="deployment.update", object_id=str(deployment.pk))
    assert "name" not in update.after and update.after["capital"] == "4000000"


def test_the_edit_form_shows_a_refusal_on_its_field(signed_in, user):
    deployment = running(user, paper(user, cash=5_000_000))
    response = signed_in.post(reverse("trading:deployment_edit", args=[deployment.pk]), {
        "name": deployment.name, "capital": "9000000", "symbols": "005930 000660", "timing": "open"})
    assert response.status_code == 400 and "at most 5,000,000 KRW is left" in response.content.decode()
    deployment.refresh_from_db()
    assert deployment.capital == 3_000_000


# -- the operators' console ------------------------------------------------------------------------
@pytest.fixture
def ops(client, settings):
    from accounts.tests.factories import UserFactory

    settings.ADMIN_REQUIRE_2FA = False
    client.force_login(UserFactory(email="ops@example.com", is_staff=True, is_superuser=True, language="en"))
    return client


def test_the_console_lists_pages_and_searches_every_deployment_row(ops, user):
    deployment = running(user, paper(user), name="콘솔")
    signal(deployment, verdict="blocked", guard_message="막힘", outcome="blocked")
    DeploymentDay.objects.create(deployment=deployment, day=dt.date(2026, 3, 17), equity=Decimal(1), cash=Decimal(1))
    for url in ["/admin/trading/deployment/?state__exact=running&real_money__exact=0",
                f"/admin/trading/deployment/?q={user.email}", f"/admin/trading/deployment/{deployment.pk}/change/",
                "/admin/trading/deploymentsignal/", "/admin/trading/deploymentday/", "/admin/trading/symbolclaim/",
                "/admin/trading/risksettings/", "/admin/marketdata/baringest/"]:
        response = ops.get(url)
        assert response.status_code == 200, url
    assert "막힘" in ops.get(f"/admin/trading/deployment/{deployment.pk}/change/").content.decode()
    assert "콘솔" in ops.get(f"/admin/trading/deployment/?q={user.email}").content.decode()


def test_console_actions_pause_halt_and_resume_through_the_services_as_the_admin(ops, user):
    deployment = running(user, paper(user))
    real = running(user, real_account(user), name="실전")
    url = "/admin/trading/deployment/"
    ops.post(url, {"action": "pause", "_selected_action": [deployment.pk]})
    deployment.refresh_from_db()
    assert deployment.state == DeploymentState.PAUSED
    ops.post(url, {"action": "halt", "_selected_action": [deployment.pk, real.pk]})
    deployment.refresh_from_db()
    assert deployment.state == DeploymentState.HALTED and deployment.state_code == "admin"
    response = ops.post(url, {"action": "resume", "_selected_action": [deployment.pk, real.pk]}, follow=True)
    deployment.refresh_from_db()
    real.refresh_from_db()
    assert deployment.state == DeploymentState.RUNNING
    assert real.state == DeploymentState.HALTED  # real money resumes only with its owner's confirmation
    assert "confirm that you want it to place real orders" in response.content.decode()
    kinds = set(AuditEntry.objects.filter(action__in=["deployment.pause", "deployment.halt", "deployment.resume"])
                .values_list("actor_kind", "door"))
    assert kinds == {("admin", "admin")}


def test_the_wizards_review_names_the_deployment_that_already_owns_a_symbol(signed_in, user):
    account = paper(user)
    running(user, account, name="먼저 온 배포")
    strategy = StrategyFactory(owner=user, codes=["005930", "005380"])
    review = wizard_post(signed_in, step="3", strategy=strategy.pk, account=account.pk,
                         setup_for=f"{strategy.pk}:{account.pk}", name="나중", capital="1000000", symbols="",
                         timing="open").content.decode()
    assert 'data-testid="claims-blocked"' in review and "먼저 온 배포" in review
    assert Deployment.objects.count() == 1


def test_the_curve_shows_the_backtest_over_the_same_days_when_the_drift_report_has_it(signed_in, user, monkeypatch):
    from trading.live import drift

    deployment = running(user, paper(user))
    days = [dt.date(2026, 3, 16), dt.date(2026, 3, 17)]
    for day, equity in zip(days, [3_000_000, 3_020_000], strict=True):
        DeploymentDay.objects.create(deployment=deployment, day=day, equity=Decimal(equity), cash=Decimal(equity))
    monkeypatch.setattr(drift, "backtest_equity", lambda deployment, days: [Decimal(3_000_000), Decimal(3_050_000)])
    page = signed_in.get(reverse("trading:deployment_detail", args=[deployment.pk])).content.decode()
    assert '"backtest": [3000000.0, 3050000.0]' in page and '"equity": [3000000.0, 3020000.0]' in page


def test_the_wizard_asks_for_the_2fa_code_for_real_money_and_puts_a_wrong_one_on_its_field(signed_in, user):
    from allauth.mfa.totp.internal.auth import TOTP

    TOTP.activate(user, "JBSWY3DPEHPK3PXP")
    account = real_account(user)
    strategy = StrategyFactory(owner=user)
    setup = {"strategy": strategy.pk, "account": account.pk, "setup_for": f"{strategy.pk}:{account.pk}",
             "name": "", "capital": "1000000", "symbols": "005930", "timing": "open"}
    review = wizard_post(signed_in, step="3", **setup).content.decode()
    assert 'name="otp_code"' in review
    refused = wizard_post(signed_in, step="start", confirm_real="on", otp_code="000000", **setup)
    page = refused.content.decode()
    assert refused.status_code == 400 and not Deployment.objects.exists()
    assert 'data-field="otp_code"' in page and 'id="id_otp_code_error"' in page
    assert re.search(r'<input[^>]*name="confirm_real"[^>]*checked', page)  # the confirmation is kept
