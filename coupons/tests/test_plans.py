"""The plans pages and API, the per-plan API throttle, and the limits the plans hold."""

import pytest
from django.test import Client
from rest_framework.throttling import SimpleRateThrottle

from core.audit import Actor
from coupons import selectors, services
from coupons.models import Plan, SubscriptionSource
from coupons.tests.helpers import free_limits

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(user, other_user):
    """Messages are asserted in English (the msgids); Korean is the site default."""
    from django.utils import translation

    for person in (user, other_user):
        person.language = "en"
        person.save(update_fields=["language"])
    with translation.override("en"):
        yield


def grant(user, code: str, days: int = 10):
    return services.subscription_grant(actor=Actor.system("test"), user=user, plan=Plan.objects.get(code=code),
                                       days=days, source=SubscriptionSource.ADMIN)


@pytest.fixture
def alice(client: Client, user) -> Client:
    user.language = "en"
    user.save(update_fields=["language"])
    client.force_login(user)
    return client


def test_the_seeded_free_plan_holds_todays_global_limits():
    free = Plan.objects.get(is_default=True)
    assert (free.code, free.max_concurrent_backtests, free.max_symbols_per_backtest, free.max_sweep_cells) == (
        "free", 3, 200, 400)
    assert list(Plan.objects.values_list("code", flat=True)) == ["free", "pro", "premium"]
    assert Plan.objects.get(code="pro").invite_reward_days == 14


def test_the_limit_message_names_the_smallest_plan_that_lifts_it():
    limits = selectors.plan_limits(user=None)
    assert selectors.limit_message(limits=limits, field="max_sweep_cells") == (
        "Sweep cells: your plan Free allows 400. Pro allows 2,000.")
    premium = selectors.Limits.of_plan(Plan.objects.get(code="premium"))
    assert selectors.limit_message(limits=premium, field="max_sweep_cells").endswith(
        str(selectors.LIMIT_HIGHEST))


def test_the_plans_page_compares_plans_and_marks_mine(alice, user):
    grant(user, "pro")
    response = alice.get("/plans/")
    page = response.content.decode()
    assert response.status_code == 200
    assert [p.code for p in response.context["plans"]] == ["free", "pro", "premium"]
    assert 'data-testid="plan-pro" aria-current="true"' in page
    assert "Symbols per backtest" in page and "2,000" in page
    assert "/coupons/" in page  # how to get one: the coupon box
    assert "price" not in page.lower() and "buy" not in page.lower()


def test_the_plans_pages_need_a_sign_in_and_only_read(client, alice):
    assert Client().get("/plans/").status_code == 302
    assert alice.post("/plans/").status_code == 405


def test_my_plan_shows_usage_bars_and_history(alice, user):
    from strategies.models import Strategy

    Strategy.objects.create(owner=user, name="a", strategy_type="sma_cross", params={"fast": 5, "slow": 20})
    grant(user, "pro")
    response = alice.get("/plans/me/")
    page = response.content.decode()
    assert response.context["limits"].plan_code == "pro"
    strategies = next(u for u in response.context["usage"] if u.field == "max_strategies")
    assert (strategies.used, strategies.limit) == (1, 100)
    assert '<meter min="0" max="100" value="1"' in page
    assert 'data-testid="history"' in page and "Granted by an admin" in page


def test_my_plan_never_shows_another_users_subscription(alice, user, other_user):
    grant(other_user, "premium")
    response = alice.get("/plans/me/")
    assert response.context["limits"].plan_code == "free"
    assert list(response.context["history"]) == []
    assert "Premium" not in response.content.decode()


def test_my_plan_needs_a_sign_in(client):
    assert client.get("/plans/me/").status_code == 302


def test_the_plans_api_lists_public_plans_with_their_limits(api_client, anon_api_client):
    Plan.objects.filter(code="premium").update(is_public=False)
    assert anon_api_client.get("/api/v1/plans/").status_code in (401, 403)
    body = api_client.get("/api/v1/plans/").json()
    assert [plan["code"] for plan in body] == ["free", "pro"]
    assert body[1]["max_symbols_per_backtest"] == 500 and "api_requests_per_minute" in body[1]


def test_the_subscription_api_shows_only_my_plan_usage_and_history(api_client, user, other_user):
    grant(other_user, "premium")
    body = api_client.get("/api/v1/subscription/").json()
    assert (body["plan"]["code"], body["subscription"], body["history"]) == ("free", None, [])
    grant(user, "pro", 14)
    body = api_client.get("/api/v1/subscription/").json()
    assert body["plan"]["code"] == "pro"
    assert body["subscription"]["source"] == "admin" and body["subscription"]["status"] == "active"
    assert [item["plan"] for item in body["history"]] == ["pro"]
    usage = {item["limit"]: item for item in body["usage"]}
    assert usage["max_symbols_per_backtest"]["allowed"] == 500
    assert usage["max_strategies"]["used"] == 0 and usage["api_requests_per_minute"]["used"] is None


def test_the_subscription_api_needs_a_sign_in(anon_api_client):
    assert anon_api_client.get("/api/v1/subscription/").status_code in (401, 403)


@pytest.fixture
def throttled(monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "1000/min", "user": "600/min"})


def test_the_api_throttle_follows_the_plan(api_client, user, throttled):
    free_limits(api_requests_per_minute=2)
    answers = [api_client.get("/api/v1/plans/") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    error = answers[-1].json()["error"]
    assert error["code"] == "throttled"
    assert error["message"].startswith("API requests per minute: your plan Free allows 2. Pro allows 600.")
    assert int(answers[-1]["Retry-After"]) > 0
    Plan.objects.filter(code="pro").update(api_requests_per_minute=5)
    grant(user, "pro")
    answers = [api_client.get("/api/v1/plans/").status_code for _ in range(3)]
    assert answers == [200, 200, 200]  # Pro: 5 a minute; the 2 let through on Free count too


def test_the_throttle_is_per_user(api_client, other_api_client, throttled):
    free_limits(api_requests_per_minute=1)
    assert api_client.get("/api/v1/plans/").status_code == 200
    assert other_api_client.get("/api/v1/plans/").status_code == 200
    assert api_client.get("/api/v1/plans/").status_code == 429


def test_an_admin_grants_a_plan_for_n_days_audited_as_the_admin(client, user):
    from accounts.tests.factories import UserFactory
    from core.models import AuditEntry

    admin_user = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    assert 'data-testid="grant-plan"' in client.get("/admin/coupons/subscription/").content.decode()
    pro = Plan.objects.get(code="pro")
    response = client.post("/admin/coupons/subscription/grant/",
                           {"email": "ALICE@example.com", "plan": pro.pk, "days": 30, "note": "beta tester"})
    assert response.status_code == 302
    subscription = selectors.subscription_current(user=user)
    assert (subscription.plan.code, subscription.source, subscription.granted_by) == ("pro", "admin", admin_user)
    entry = AuditEntry.objects.get(action="subscription.grant")
    assert (entry.actor, entry.actor_kind, entry.door, entry.owner) == (
        admin_user, AuditEntry.ActorKind.ADMIN, "admin", user)
    refused = client.post("/admin/coupons/subscription/grant/", {"email": "nobody@example.com", "plan": pro.pk,
                                                                 "days": 3})
    assert refused.status_code == 200 and refused.context["form"].errors["email"]


def test_plans_are_editable_in_the_admin_and_apply_at_once(client, user):
    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory(email="ops@example.com", is_staff=True, is_superuser=True))
    free = Plan.objects.get(code="free")
    assert client.get(f"/admin/coupons/plan/{free.pk}/change/").status_code == 200
    Plan.objects.filter(pk=free.pk).update(max_symbols_per_backtest=50)
    assert selectors.plan_limits(user=user).max_symbols_per_backtest == 50
