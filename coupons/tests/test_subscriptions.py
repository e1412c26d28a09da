"""Granting plans: the queue of subscriptions (upgrade, extend, lower), audited with the actor."""

import datetime as dt

import pytest

from core.audit import Actor
from core.errors import ApplicationError
from core.models import AuditEntry
from coupons import selectors, services
from coupons.models import Plan, Subscription, SubscriptionSource, SubscriptionStatus

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def plan(code: str) -> Plan:
    return Plan.objects.get(code=code)


def grant(user, code: str, days: int, **kwargs) -> Subscription:
    return services.subscription_grant(actor=Actor.system("test"), user=user, plan=plan(code), days=days,
                                       source=kwargs.pop("source", SubscriptionSource.ADMIN), **kwargs)


def live(user) -> list[tuple[str, str]]:
    return [(s.plan.code, s.status) for s in Subscription.objects.filter(
        user=user, status__in=["active", "scheduled"]).order_by("starts_at")]


def test_a_user_without_subscription_is_on_free(user):
    assert selectors.current_plan(user=user).code == "free"
    assert selectors.plan_limits(user=user).max_symbols_per_backtest == 200


def test_a_first_grant_starts_now(user):
    subscription = grant(user, "pro", 14)
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.ends_at - subscription.starts_at == 14 * DAY
    assert selectors.plan_limits(user=user).plan_code == "pro"


def test_an_upgrade_starts_now_and_schedules_the_rest_of_the_current_plan(user):
    pro = grant(user, "pro", 30)
    premium = grant(user, "premium", 7)
    pro.refresh_from_db()
    assert pro.status == SubscriptionStatus.ENDED
    assert live(user) == [("premium", "active"), ("pro", "scheduled")]
    rest = Subscription.objects.get(user=user, status="scheduled")
    assert rest.starts_at == premium.ends_at
    assert abs((rest.ends_at - rest.starts_at) - (pro.ends_at - premium.starts_at)) < dt.timedelta(seconds=5)
    assert selectors.plan_limits(user=user).plan_code == "premium"


def test_an_upgrade_over_an_endless_plan_schedules_it_endless_after(user):
    grant(user, "pro", 30)
    Subscription.objects.filter(user=user).update(ends_at=None)
    premium = grant(user, "premium", 7)
    rest = Subscription.objects.get(user=user, status="scheduled")
    assert (rest.starts_at, rest.ends_at) == (premium.ends_at, None)


def test_the_same_plan_extends_the_current_end(user):
    first = grant(user, "pro", 14)
    end = first.ends_at
    again = grant(user, "pro", 10, source=SubscriptionSource.INVITE)
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.ends_at == end + 10 * DAY
    assert live(user) == [("pro", "active")]


def test_a_lower_plan_is_scheduled_after_the_current_one(user):
    premium = grant(user, "premium", 7)
    pro = grant(user, "pro", 14)
    assert pro.status == SubscriptionStatus.SCHEDULED
    assert (pro.starts_at, pro.ends_at) == (premium.ends_at, premium.ends_at + 14 * DAY)
    assert selectors.plan_limits(user=user).plan_code == "premium"


def test_an_upgrade_pushes_scheduled_plans_back(user):
    grant(user, "pro", 10)
    grant(user, "premium", 5)  # pro's rest scheduled after premium
    rest = Subscription.objects.get(user=user, status="scheduled")
    starts = rest.starts_at
    grant(user, "premium", 3)  # extends premium: the rest moves 3 days later
    rest.refresh_from_db()
    assert rest.starts_at == starts + 3 * DAY


def test_the_default_plan_and_zero_days_are_refused(user):
    with pytest.raises(ApplicationError) as error:
        grant(user, "free", 10)
    assert error.value.message == str(services.DEFAULT_PLAN_NOT_GRANTED)
    with pytest.raises(ApplicationError):
        grant(user, "pro", 0)
    assert not Subscription.objects.filter(user=user).exists()


def test_every_grant_is_audited_with_its_actor(user, other_user):
    services.subscription_grant(actor=Actor.of_admin(other_user), user=user, plan=plan("pro"), days=5,
                                source=SubscriptionSource.ADMIN, granted_by=other_user, note="support")
    entry = AuditEntry.objects.get(action="subscription.grant")
    assert (entry.owner, entry.actor, entry.actor_kind) == (user, other_user, AuditEntry.ActorKind.ADMIN)
    assert entry.after["granted_plan"] == "pro" and entry.after["mode"] == "start"
    assert entry.reason == "support"


def test_a_grant_announces_the_change_on_commit(user, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr("core.events.deliver", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        grant(user, "pro", 5)
    assert [(e.user_id, e.name) for e in sent] == [(user.pk, "subscription.changed")]
