"""System settings: one cached, audited row; maintenance mode stops orders through the global kill
switch, makes pages read-only for users (the admin stays usable) and shows a banner; each switch
has its effect."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import translation

from accounts.models import User
from core.audit import Actor
from core.errors import ApplicationError, PermissionDenied
from core.models import AuditEntry
from core.models_system import CACHE_KEY
from core.system.selectors import system_settings
from core.system.services import system_settings_update
from core.tests.system_wiring import wire
from trading.killswitch import kill_switch_pull, kill_switches_for
from trading.orders.models import KillSwitch
from trading.orders.place import OrderRefused, order_place
from trading.orders.tests.conftest import morning, no_jobs, paper_account  # noqa: F401 - fixtures
from trading.paper.tests.conftest import samsung, store, write_bar  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
BORROWED_FIXTURES = (morning, no_jobs, paper_account, samsung, store, write_bar)  # the ledger's, imported above


@pytest.fixture(autouse=True)
def _wired(settings):
    wire(settings)
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""
    with translation.override("en"):
        yield


@pytest.fixture
def staff(admin_user):
    return Actor.of_admin(admin_user)


def maintenance_on(staff, message="DB upgrade until 10:00"):
    return system_settings_update(actor=staff, maintenance_mode=True, maintenance_message=message)


def test_changes_are_audited_with_only_what_changed_and_the_cache_follows(staff, django_assert_num_queries):
    assert system_settings().signup_open  # the defaults, now cached
    with django_assert_num_queries(0):
        system_settings()
    system_settings_update(actor=staff, signup_open=False, backtest_commission_pct="0.02", invites_open=True)
    assert cache.get(CACHE_KEY) is None and not system_settings().signup_open
    entry = AuditEntry.objects.get(action="system_settings.update")
    assert (entry.before, entry.after, entry.actor, entry.door) == (
        {"signup_open": True, "backtest_commission_pct": "0.0150"},
        {"signup_open": False, "backtest_commission_pct": "0.0200"}, staff.user, "admin")


def test_only_staff_change_settings_and_bad_values_are_refused(user, staff):
    with pytest.raises(PermissionDenied):
        system_settings_update(actor=Actor.of_user(user), signup_open=False)
    with pytest.raises(ApplicationError) as caught:
        system_settings_update(actor=staff, backtest_slippage_bps="-1")
    assert caught.value.field == "backtest_slippage_bps"
    with pytest.raises(ApplicationError):
        system_settings_update(actor=staff, no_such_switch=True)
    assert not AuditEntry.objects.filter(action="system_settings.update").exists()


def test_maintenance_stops_new_orders_through_the_global_kill_switch(staff, paper_account, no_jobs):
    maintenance_on(staff)
    assert kill_switches_for(paper_account).platform
    with pytest.raises(OrderRefused) as caught:
        order_place(actor=Actor.of_user(paper_account.owner), account=paper_account, symbol="005930", side="buy",
                    quantity=Decimal(1), order_type="limit", price=Decimal(71_300))
    assert "kill_switch_global" in [failure["code"] for failure in caught.value.failures]
    assert AuditEntry.objects.filter(action="killswitch.pull", reason__contains="DB upgrade").exists()
    system_settings_update(actor=staff, maintenance_mode=False)
    assert not kill_switches_for(paper_account).platform


def test_ending_maintenance_leaves_a_switch_pulled_before_it_alone(staff):
    kill_switch_pull(actor=staff, scope="global", reason="exchange incident")
    maintenance_on(staff)
    system_settings_update(actor=staff, maintenance_mode=False)
    assert KillSwitch.objects.get(scope="global").reason == "exchange incident"
    assert KillSwitch.objects.get(scope="global").on


def test_maintenance_makes_pages_read_only_for_users_but_not_for_the_admin(staff, client, admin_client, user):
    maintenance_on(staff)
    client.force_login(user)
    refused = client.post("/settings/", {"theme": "dark"})
    assert refused.status_code == 503 and b'data-testid="maintenance-refused"' in refused.content
    api = client.post("/api/v1/invites/", {}, content_type="application/json")
    assert api.status_code == 503 and api.json()["code"] == "maintenance"
    page = client.get("/dashboard/")  # reading stays possible, under the banner
    assert page.status_code == 200 and b'data-testid="maintenance-banner"' in page.content
    assert "DB upgrade until 10:00" in page.content.decode()
    assert client.post("/preferences/", {"language": "en", "next": "/"}).status_code == 302  # the language switch
    assert client.post("/accounts/logout/").status_code == 302  # signing out too
    assert admin_client.get("/admin/core/systemsettings/")["Location"] == "/admin/core/systemsettings/1/change/"
    assert admin_client.get("/admin/core/systemsettings/1/change/").status_code == 200
    changed = admin_client.post("/admin/core/systemsettings/1/change/", {
        "maintenance_message": "", "signup_open": "on", "invites_open": "on", "live_trading_allowed": "on",
        "real_money_allowed": "on", "backtest_commission_pct": "0.015", "backtest_slippage_bps": "0",
        "default_plan": _default_plan_pk()})
    assert changed.status_code == 302 and not system_settings().maintenance_mode  # the admin stays usable
    assert not KillSwitch.objects.get(scope="global").on


def test_alertmanager_reaches_the_operators_during_maintenance(staff, client, settings, monkeypatch):
    from notifications import ops

    told = []
    monkeypatch.setattr(ops, "ops_alert", lambda **kwargs: told.append(kwargs) or True)
    settings.ALERTMANAGER_TOKEN = "am-token"
    maintenance_on(staff)
    answer = client.post("/ops/alerts/", {"status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "WorkerDown"}, "annotations": {"summary": "no worker"},
         "fingerprint": "w1"}]}, content_type="application/json", HTTP_AUTHORIZATION="Bearer am-token")
    assert answer.status_code == 200 and len(told) == 1


def _default_plan_pk():
    from coupons.selectors import default_plan
    from coupons.tests.helpers import plans_seeded

    plans_seeded()
    return default_plan().pk


def test_the_banner_shows_the_message_while_maintenance_is_on(staff, user):
    request = RequestFactory().get("/")
    request.user = user
    assert "maintenance-banner" not in render_to_string("core/_maintenance.html", request=request)
    maintenance_on(staff, message="Back at 10:00 KST")
    request = RequestFactory().get("/")
    banner = render_to_string("core/_maintenance.html", request=request)
    assert "maintenance-banner" in banner and "Back at 10:00 KST" in banner


def test_signup_closed_refuses_the_signup_page(staff, client):
    assert client.get("/accounts/signup/").status_code == 200
    system_settings_update(actor=staff, signup_open=False)
    response = client.get("/accounts/signup/")
    assert "account/signup_closed.html" in [template.name for template in response.templates]
    client.post("/accounts/signup/", {"email": "new@example.com", "password1": "a-Long-pass-1234",
                                      "password2": "a-Long-pass-1234"})
    assert not User.objects.filter(email="new@example.com").exists()


def test_invites_closed_refuses_a_code_at_signup(staff, user):
    from accounts import invites

    code = invites.invite_code_get_or_create(user=user).code
    assert invites.invite_code_check(code=code, email="friend@example.com").code == code
    system_settings_update(actor=staff, invites_open=False)
    with pytest.raises(ApplicationError) as caught:
        invites.invite_code_check(code=code, email="friend@example.com")
    assert (caught.value.code, caught.value.field) == ("invites_closed", "invite")


def test_live_and_real_money_switches_refuse_deployment_start(staff, user):
    from coupons.tests.helpers import free_limits
    from strategies.tests.factories import StrategyFactory
    from trading.live import services
    from trading.models import BrokerAccount
    from trading.services import broker_account_open_paper

    free_limits(max_running_deployments=3, max_real_deployments=1)
    real = BrokerAccount.objects.create(owner=user, broker="kis", environment="real", account_no="5012345601",
                                        nickname="real", status="active",
                                        balance_snapshot={"total_evaluation": "50000000", "positions": []})
    paper = broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname="paper", cash=10_000_000)
    alice = Actor.of_user(user)

    def draft(account):
        return services.deployment_create(actor=alice, strategy=StrategyFactory(owner=user), account=account,
                                          name="", capital=Decimal(1_000_000))

    system_settings_update(actor=staff, real_money_allowed=False)
    with pytest.raises(ApplicationError) as caught:
        services.deployment_start(actor=alice, deployment=draft(real), confirm_real=True)
    assert caught.value.code == "real_money_off"
    system_settings_update(actor=staff, real_money_allowed=True, live_trading_allowed=False)
    with pytest.raises(ApplicationError) as caught:
        services.deployment_start(actor=alice, deployment=draft(real), confirm_real=True)
    assert caught.value.code == "live_trading_off"
    started = services.deployment_start(actor=alice, deployment=draft(paper))  # paper still runs
    services.deployment_pause(actor=alice, deployment=started)
    system_settings_update(actor=staff, live_trading_allowed=True)
    assert services.deployment_resume(actor=alice, deployment=started).state == "running"


def test_new_backtests_take_the_default_costs_and_the_default_plan_moves(staff):
    from backtests.forms import BacktestForm
    from coupons.models import Plan
    from coupons.selectors import default_plan

    system_settings_update(actor=staff, backtest_commission_pct="0.025", backtest_slippage_bps="5")
    defaults = BacktestForm.defaults()
    assert (defaults["commission"], defaults["slippage_bps"]) == (Decimal("0.025"), Decimal("5"))
    _default_plan_pk()
    pro = Plan.objects.exclude(is_default=True).order_by("rank").first()
    system_settings_update(actor=staff, default_plan=pro)
    assert default_plan() == pro and Plan.objects.filter(is_default=True).count() == 1


def test_one_read_of_the_settings_per_request(client, user, monkeypatch, settings):
    from accounts import invites
    from core.system import selectors

    settings.ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
    code = invites.invite_code_get_or_create(user=user).code
    reads = []
    real_read = selectors._read
    monkeypatch.setattr(selectors, "_read", lambda: reads.append(1) or real_read())
    client.post("/accounts/signup/", {"email": "friend@example.com", "password1": "a-Long-pass-1234",
                                      "password2": "a-Long-pass-1234", "invite": code})
    assert User.objects.filter(email="friend@example.com").exists()  # the adapter and the invite check both asked
    assert len(reads) == 1
