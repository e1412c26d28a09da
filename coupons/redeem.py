"""Redeeming a coupon: every rule checked under row locks, the plan granted, at most the cap.

``coupon_redeem`` locks the user's row (the same lock ``subscription_grant`` takes, so the current plan
it checks cannot change under it), then the coupon's row (``select_for_update``): two requests racing
for the last redemption queue on that lock and the second one sees the coupon used up. The counter
is raised by a conditional UPDATE as well (``redeemed_count < max_redemptions``) and the database's
check constraint refuses anything past the cap, so a cap is never passed even by a path that forgot
the lock. The user's own redemptions are counted under the same lock (the per-user cap).

Every refusal is an :class:`ApplicationError` with ``field="code"`` and a code of its own; messages are
the constants below.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Replace, Upper
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from core import events
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from coupons import codes, selectors
from coupons.models import Coupon, CouponKind, Plan, Redemption, Subscription, SubscriptionSource
from coupons.services import subscription_grant

EVENT_REDEEMED = "coupon.redeemed"
GUESS_LIMIT = 20  # codes that match no coupon, per user and hour: 31^8 codes cannot be guessed at this pace
GUESS_WINDOW = 3600

CODE_EMPTY = _("Enter a coupon code.")
UNKNOWN = _("No coupon has this code. Check it and try again.")
INACTIVE = _("This coupon is no longer active.")
NOT_YET_VALID = _("This coupon can be used from %(date)s.")
EXPIRED = _("This coupon expired on %(date)s.")
EXHAUSTED = _("This coupon has been used up.")
ALREADY_USED = _("You have already used this coupon.")
NEW_USERS_ONLY = _("This coupon is for new members only: those who signed up within the last %(days)s days "
                   "and have never had a plan.")
WRONG_PLAN = _("This coupon cannot be used on your current plan (%(plan)s). It is for members on: %(plans)s.")
TRIAL_NOT_ON_FREE = _("This is a free trial for members on %(free)s; you are on %(plan)s.")
NOT_AN_UPGRADE = _("This coupon gives %(plan)s, which is not higher than your current plan (%(current)s).")
TOO_MANY_GUESSES = _("Too many codes that match no coupon: try again in an hour.")


class TooManyGuesses(ApplicationError):
    status = 429
    code = "too_many_attempts"


def _refuse(message: Any, code: str, **values: Any) -> ApplicationError:
    text = str(message) % values if values else str(message)
    return ApplicationError(text, field="code", code=code)


def _when(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def coupon_find(code: str) -> Coupon | None:
    """The coupon a typed code names (case, spaces and dashes ignored), or None."""
    canonical = codes.normalize(code)
    if not canonical:
        return None
    coupon = Coupon.objects.filter(code=canonical).first()
    if coupon is None:  # a row written outside the admin and services, with dashes or lower case
        loose = Replace(Replace(Replace(Upper("code"), Value("-"), Value("")), Value(" "), Value("")),
                        Value("_"), Value(""))
        coupon = Coupon.objects.annotate(canonical=loose).filter(canonical=canonical).order_by("pk").first()
    return coupon


def _check_window(coupon: Coupon, now: dt.datetime) -> None:
    if not coupon.active:
        raise _refuse(INACTIVE, "inactive")
    if coupon.valid_from is not None and now < coupon.valid_from:
        raise _refuse(NOT_YET_VALID, "not_yet_valid", date=_when(coupon.valid_from))
    if coupon.valid_until is not None and now >= coupon.valid_until:
        raise _refuse(EXPIRED, "expired", date=_when(coupon.valid_until))
    if coupon.max_redemptions is not None and coupon.redeemed_count >= coupon.max_redemptions:
        raise _refuse(EXHAUSTED, "exhausted")


def _check_user(coupon: Coupon, user: User, now: dt.datetime) -> None:
    used = Redemption.objects.filter(coupon=coupon, user=user).count()
    if used >= coupon.max_per_user:
        if coupon.max_per_user > 1:
            raise ApplicationError(ngettext("You have used this coupon %(count)d time, as many as it allows.",
                                            "You have used this coupon %(count)d times, as many as it allows.",
                                            used) % {"count": used}, field="code", code="already_used")
        raise _refuse(ALREADY_USED, "already_used")
    if coupon.new_users_only:
        joined_long_ago = user.date_joined < now - dt.timedelta(days=coupon.new_user_days)
        subscribed = Subscription.objects.filter(user=user).exclude(source=SubscriptionSource.DEFAULT).exists()
        if joined_long_ago or subscribed:
            raise _refuse(NEW_USERS_ONLY, "new_users_only", days=coupon.new_user_days)


def _plan_name(plan: Plan | None) -> str:
    return plan.name if plan is not None else "Free"


def _check_plan(coupon: Coupon, current: Plan | None) -> None:
    """Which plan the user may redeem it from: a trial from Free only, an upgrade to a higher plan only,
    and the coupon's own list of plans when it has one."""
    on_free = current is None or current.is_default
    if coupon.kind == CouponKind.TRIAL_DAYS and not on_free:
        free = selectors.default_plan()
        raise _refuse(TRIAL_NOT_ON_FREE, "trial_not_on_free", free=_plan_name(free), plan=_plan_name(current))
    allowed = list(coupon.from_plans.all())
    if allowed and (current is None or current.pk not in {plan.pk for plan in allowed}):
        raise _refuse(WRONG_PLAN, "wrong_plan", plan=_plan_name(current),
                      plans=", ".join(plan.name for plan in sorted(allowed, key=lambda plan: plan.rank)))
    if coupon.kind == CouponKind.UPGRADE and current is not None and coupon.plan.rank <= current.rank:
        raise _refuse(NOT_AN_UPGRADE, "not_an_upgrade", plan=coupon.plan.name, current=current.name)


def coupon_redeem(*, actor: Actor, user: User, code: str) -> Redemption:
    """Redeem ``code`` for ``user``: the plan and days the coupon gives, through ``subscription_grant``
    (source ``coupon``). Returns the redemption (with ``subscription`` and ``coupon`` loaded).

    Raises ApplicationError (``field="code"``): ``code_required``, ``unknown_code`` (after 20 in an
    hour, ``TooManyGuesses``, 429, whatever the code), ``inactive``,
    ``not_yet_valid``, ``expired``, ``exhausted``, ``already_used``, ``new_users_only``,
    ``wrong_plan``, ``trial_not_on_free``, ``not_an_upgrade``. Audited with ``actor``; announces
    ``coupon.redeemed`` to the user on commit.
    """
    if not codes.normalize(code):
        raise _refuse(CODE_EMPTY, "code_required")
    guesses = f"coupons:unknown-codes:{user.pk}"
    if cache.get(guesses, 0) >= GUESS_LIMIT:
        raise TooManyGuesses(str(TOO_MANY_GUESSES), field="code")
    found = coupon_find(code)
    if found is None:
        cache.add(guesses, 0, GUESS_WINDOW)
        cache.incr(guesses)
        raise _refuse(UNKNOWN, "unknown_code")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        coupon = Coupon.objects.select_for_update().select_related("plan").get(pk=found.pk)
        now = timezone.now()
        _check_window(coupon, now)
        _check_user(coupon, user, now)
        current = selectors.current_plan(user=user)
        _check_plan(coupon, current)
        capped = Q(max_redemptions__isnull=True) | Q(redeemed_count__lt=F("max_redemptions"))
        if not Coupon.objects.filter(capped, pk=coupon.pk).update(redeemed_count=F("redeemed_count") + 1):
            raise _refuse(EXHAUSTED, "exhausted")
        subscription = subscription_grant(actor=actor, user=user, plan=coupon.plan, days=coupon.days,
                                          source=SubscriptionSource.COUPON, note=f"coupon {codes.display(coupon.code)}")
        redemption = Redemption.objects.create(coupon=coupon, user=user, subscription=subscription, redeemed_at=now)
        audit_record(actor=actor, action="coupon.redeem", owner=user, target=coupon,
                     before={"redeemed_count": coupon.redeemed_count, "plan": current.code if current else None},
                     after={"redeemed_count": coupon.redeemed_count + 1, "redemption": redemption.pk,
                            "plan": coupon.plan.code, "days": coupon.days, "subscription": subscription.pk})
        events.publish(user_id=user.pk, event=EVENT_REDEEMED,
                       payload={"redemption": redemption.pk, "plan": coupon.plan.code, "days": coupon.days,
                                "starts_at": subscription.starts_at.isoformat(),
                                "ends_at": subscription.ends_at.isoformat() if subscription.ends_at else None})
    coupon.redeemed_count += 1
    return redemption
