"""Redeeming a coupon: what it gives, every refusal with its message, the cap under concurrency."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from core import events
from core.audit import Actor
from core.errors import ApplicationError
from core.models import AuditEntry
from coupons import redeem, selectors
from coupons.models import Coupon, CouponKind, Redemption, Subscription, SubscriptionSource
from coupons.redeem import coupon_redeem
from coupons.services import subscription_grant

from .coupon_helpers import coupon, plans

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def seeded(db):
    return plans()


def redeem_as(user, code: str) -> Redemption:
    return coupon_redeem(actor=Actor.of_user(user), user=user, code=code)


def refusal(user, code: str) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        redeem_as(user, code)
    assert caught.value.field == "code"
    return caught.value


def test_a_trial_gives_its_plan_for_its_days_to_a_user_on_free(user, seeded, monkeypatch,
                                                              django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(events, "ROUTES", [sent.append])
    coupon("ABCDEFGH", plan="pro", days=14)
    with django_capture_on_commit_callbacks(execute=True):
        redemption = redeem_as(user, "ABCD-EFGH")
    subscription = redemption.subscription
    assert subscription.plan.code == "pro" and subscription.source == SubscriptionSource.COUPON
    assert subscription.ends_at - subscription.starts_at == 14 * DAY
    assert selectors.current_plan(user=user).code == "pro"
    assert Coupon.objects.get(code="ABCDEFGH").redeemed_count == 1
    entry = AuditEntry.objects.get(action="coupon.redeem")
    assert entry.actor == user and entry.owner == user and entry.after["plan"] == "pro"
    assert [event.name for event in sent if event.name == "coupon.redeemed"] == ["coupon.redeemed"]


@pytest.mark.parametrize("typed", ["abcd-efgh", " ABCD EFGH ", "abCDef-gh", "ABCD–EFGH"])
def test_a_code_is_read_whatever_its_case_spaces_or_dashes(user, seeded, typed):
    coupon("ABCDEFGH")
    assert redeem_as(user, typed).coupon.code == "ABCDEFGH"


def test_a_code_stored_with_dashes_or_lower_case_is_found_too(user, seeded):
    coupon("Spring-2026")
    assert redeem_as(user, "SPRING2026").coupon.code == "Spring-2026"


def test_an_empty_code_is_asked_for(user, seeded):
    assert refusal(user, " - ").code == "code_required"


def test_an_unknown_code_is_refused(user, seeded):
    error = refusal(user, "ZZZZ-ZZZZ")
    assert error.code == "unknown_code" and error.message == str(redeem.UNKNOWN)


def test_too_many_unknown_codes_stop_the_guessing_for_an_hour(user, other_user, seeded):
    coupon("ABCDEFGH")
    for attempt in range(redeem.GUESS_LIMIT):
        assert refusal(user, f"WRONG{attempt:03d}").code == "unknown_code"
    error = refusal(user, "ABCDEFGH")
    assert error.code == "too_many_attempts" and error.status == 429
    assert error.message == "Too many codes that match no coupon: try again in an hour."
    assert redeem_as(other_user, "ABCDEFGH").coupon.code == "ABCDEFGH"  # counted per user


def test_an_inactive_coupon_is_refused(user, seeded):
    coupon(active=False)
    assert refusal(user, "ABCDEFGH").message == "This coupon is no longer active."


def test_a_coupon_before_its_window_says_from_when(user, seeded):
    start = timezone.now() + 3 * DAY
    coupon(valid_from=start)
    error = refusal(user, "ABCDEFGH")
    assert error.code == "not_yet_valid" and error.message.startswith("This coupon can be used from ")
    assert str(timezone.localtime(start).year) in error.message


def test_an_expired_coupon_says_when_it_expired(user, seeded):
    coupon(valid_until=timezone.now() - DAY)
    error = refusal(user, "ABCDEFGH")
    assert error.code == "expired" and error.message.startswith("This coupon expired on ")


def test_a_used_up_coupon_is_refused(user, other_user, seeded):
    coupon(max_redemptions=1)
    redeem_as(other_user, "ABCDEFGH")
    error = refusal(user, "ABCDEFGH")
    assert error.code == "exhausted" and error.message == "This coupon has been used up."


def test_a_coupon_is_used_once_per_user_by_default(user, seeded):
    coupon(kind=CouponKind.UPGRADE, plan="premium", days=7)
    redeem_as(user, "ABCDEFGH")
    error = refusal(user, "ABCDEFGH")
    assert error.code == "already_used" and error.message == "You have already used this coupon."


def test_the_per_user_cap_counts_the_users_redemptions(user, seeded):
    coupon(kind=CouponKind.UPGRADE, plan="premium", days=7, max_per_user=2)
    redeem_as(user, "ABCDEFGH")
    Subscription.objects.filter(user=user).update(status="ended")  # back on Free, so it is an upgrade again
    redeem_as(user, "ABCDEFGH")
    Subscription.objects.filter(user=user).update(status="ended")
    error = refusal(user, "ABCDEFGH")
    assert error.message == "You have used this coupon 2 times, as many as it allows."
    assert Redemption.objects.filter(user=user).count() == 2


def test_new_users_only_refuses_an_old_account(user, seeded):
    coupon(new_users_only=True, new_user_days=30)
    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - 31 * DAY)
    user.refresh_from_db()
    error = refusal(user, "ABCDEFGH")
    assert error.code == "new_users_only"
    assert error.message == ("This coupon is for new members only: those who signed up within the last 30 days "
                             "and have never had a plan.")


def test_new_users_only_refuses_someone_who_ever_had_a_plan(user, seeded):
    coupon(new_users_only=True)
    ended = subscription_grant(actor=Actor.system("test"), user=user, plan=seeded["pro"], days=3, source="invite")
    Subscription.objects.filter(pk=ended.pk).update(status="ended")
    assert refusal(user, "ABCDEFGH").code == "new_users_only"


def test_new_users_only_welcomes_a_new_user(user, seeded):
    coupon(new_users_only=True)
    assert redeem_as(user, "ABCDEFGH").subscription.plan.code == "pro"


def test_a_coupon_for_some_plans_names_them(user, seeded):
    coupon(kind=CouponKind.UPGRADE, plan="premium", from_plans=("pro",))
    error = refusal(user, "ABCDEFGH")
    assert error.code == "wrong_plan"
    assert error.message == "This coupon cannot be used on your current plan (Free). It is for members on: Pro."


def test_a_trial_is_for_users_on_free(user, seeded):
    subscription_grant(actor=Actor.system("test"), user=user, plan=seeded["pro"], days=30, source="admin")
    coupon(kind=CouponKind.TRIAL_DAYS, plan="premium")
    error = refusal(user, "ABCDEFGH")
    assert error.code == "trial_not_on_free"
    assert error.message == "This is a free trial for members on Free; you are on Pro."


@pytest.mark.parametrize("current", ["pro", "premium"])
def test_an_upgrade_must_be_higher_than_the_current_plan(user, seeded, current):
    subscription_grant(actor=Actor.system("test"), user=user, plan=seeded[current], days=30, source="admin")
    coupon(kind=CouponKind.UPGRADE, plan="pro")
    error = refusal(user, "ABCDEFGH")
    assert error.code == "not_an_upgrade"
    current_name = seeded[current].name
    assert error.message == f"This coupon gives Pro, which is not higher than your current plan ({current_name})."


def test_an_upgrade_from_pro_gives_premium_now_and_pro_after(user, seeded):
    pro = subscription_grant(actor=Actor.system("test"), user=user, plan=seeded["pro"], days=30, source="admin")
    coupon(kind=CouponKind.UPGRADE, plan="premium", days=7, from_plans=("pro",))
    redemption = redeem_as(user, "ABCDEFGH")
    assert selectors.current_plan(user=user).code == "premium"
    rest = Subscription.objects.get(user=user, status="scheduled")
    assert rest.plan == pro.plan and rest.starts_at == redemption.subscription.ends_at


def test_a_refusal_changes_nothing(user, seeded):
    coupon(valid_until=timezone.now() - DAY)
    refusal(user, "ABCDEFGH")
    assert not Redemption.objects.exists() and not Subscription.objects.filter(user=user).exists()
    assert Coupon.objects.get().redeemed_count == 0 and not AuditEntry.objects.filter(action="coupon.redeem").exists()


@pytest.mark.django_db(transaction=True)
def test_two_users_racing_for_the_last_redemption_get_it_once(django_user_model):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises every write anyway)")
    plans()
    coupon("LASTONE2", max_redemptions=3, redeemed_count=2)
    racers = [django_user_model.objects.create_user(email=f"racer{n}@example.com", password="x") for n in range(4)]

    def attempt(racer) -> str:
        try:
            redeem_as(racer, "LASTONE2")
            return "redeemed"
        except ApplicationError as error:
            return error.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(attempt, racers))
    assert outcomes == ["exhausted", "exhausted", "exhausted", "redeemed"]
    assert Coupon.objects.get().redeemed_count == 3 and Redemption.objects.count() == 1
