"""Granting plans: the queue of subscriptions (upgrade, extend, lower), audited with the actor."""

import datetime as dt

import pytest
from django.utils import timezone

from core.audit import Actor
from core.errors import ApplicationError
from core.models import AuditEntry
from coupons import selectors, services
from coupons.models import Plan, Subscription, SubscriptionSource, SubscriptionStatus

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


def test_a_lower_plan_under_an_endless_one_is_recorded_but_not_applied(user):
    grant(user, "premium", 7)
    Subscription.objects.filter(user=user).update(ends_at=None)
    pro = grant(user, "pro", 14)
    assert pro.status == SubscriptionStatus.CANCELLED
    assert str(services.NOT_APPLIED_ENDLESS) in pro.note
    assert live(user) == [("premium", "active")]


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


# -- the end of a subscription ---------------------------------------------------------------------
@pytest.fixture
def sent_events(monkeypatch):
    sent = []
    monkeypatch.setattr("core.events.deliver", sent.append)
    return sent


def test_the_fall_back_to_free_warns_twice_once_each_and_deletes_nothing(
        user, mailoutbox, sent_events, django_capture_on_commit_callbacks):
    from strategies.models import Strategy

    user.language = "en"  # the emails in the user's language
    user.save(update_fields=["language"])
    subscription = grant(user, "pro", 10)
    for n in range(25):  # Pro allows 100, Free 20
        Strategy.objects.create(owner=user, name=f"s{n}", strategy_type="sma_cross", params={"fast": 5, "slow": 20})
    start = subscription.starts_at
    with django_capture_on_commit_callbacks(execute=True):
        assert services.subscription_warn_due(now=start + DAY) == 0  # 9 days left
        assert services.subscription_warn_due(now=start + 4 * DAY) == 1  # 6 days left: the 7-day warning
        assert services.subscription_warn_due(now=start + 5 * DAY) == 0
        assert services.subscription_warn_due(now=start + 9 * DAY + dt.timedelta(hours=12)) == 1  # the last day
        assert services.subscription_warn_due(now=start + 9 * DAY + dt.timedelta(hours=13)) == 0
    assert [m.to for m in mailoutbox] == [[user.email], [user.email]]
    assert "Pro" in mailoutbox[0].subject and "Free" in mailoutbox[0].body
    assert [e.name for e in sent_events].count("subscription.ending") == 2
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.subscription_end_due(now=start + 11 * DAY) == 1
        assert services.subscription_end_due(now=start + 11 * DAY) == 0
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ENDED
    assert selectors.current_plan(user=user).code == "free"
    assert Strategy.objects.filter(owner=user).count() == 25  # nothing deleted
    over = next(e for e in sent_events if e.name == "subscription.over_limit")
    assert [(i["field"], i["used"], i["limit"]) for i in over.payload["items"]] == [("max_strategies", 25, 20)]
    assert len(mailoutbox) == 1 and "strategies: 25 of 20" in mailoutbox[0].body
    with pytest.raises(ApplicationError) as error:
        services.limit_check(user=user, field="max_strategies", used=25)
    assert error.value.code == "plan_limit" and "Pro" in error.value.message and "100" in error.value.message


def test_the_end_starts_the_scheduled_rest_of_the_interrupted_plan(user, sent_events):
    grant(user, "pro", 30)
    premium = grant(user, "premium", 3)
    services.subscription_end_due(now=premium.ends_at + dt.timedelta(minutes=1))
    assert live(user) == [("pro", "active")]
    assert selectors.plan_limits(user=user).plan_code == "pro"
    assert not [e for e in sent_events if e.name == "subscription.over_limit"]  # no strategy over Pro's limits


def test_a_task_away_for_long_skips_every_plan_that_ended_meanwhile(user):
    grant(user, "pro", 5)
    premium = grant(user, "premium", 2)
    services.subscription_end_due(now=premium.ends_at + 30 * DAY)
    assert live(user) == []
    assert selectors.current_plan(user=user).code == "free"


def test_the_move_is_audited_as_the_system(user):
    subscription = grant(user, "pro", 1)
    services.subscription_end_due(now=subscription.ends_at)
    entry = AuditEntry.objects.get(action="subscription.advance")
    assert (entry.owner, entry.actor_kind, entry.actor, entry.after["plan"]) == (
        user, AuditEntry.ActorKind.SYSTEM, None, "free")


def test_the_beat_tasks_run_the_services(user):
    from coupons import tasks

    Subscription.objects.create(user=user, plan=plan("pro"), source=SubscriptionSource.ADMIN,
                                starts_at=timezone.now() - 3 * DAY, ends_at=timezone.now() - DAY)
    assert tasks.end_due_subscriptions() == 1
    assert selectors.current_plan(user=user).code == "free"
    assert tasks.warn_ending_subscriptions() == 0
