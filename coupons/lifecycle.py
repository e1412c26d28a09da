"""The end of a subscription: warnings before it, the move to the next plan, and what is over a limit.

``subscription_warn_due`` warns 7 days and 1 day before an active subscription ends (once each,
``warned_7d_at``/``warned_1d_at``), by email and the ``subscription.ending`` event.
``subscription_end_due`` ends what is due, activates a scheduled subscription that starts then, or
leaves the user on the default plan; when the new plan is smaller, ``over_limit_pause`` pauses what
exceeds it (never deletes) and the user is told. The hourly beat task calls both.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext, gettext_lazy as _

from accounts.models import User
from core import events
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from coupons import selectors
from coupons.models import Subscription, SubscriptionStatus

logger = logging.getLogger(__name__)

EVENT_CHANGED = "subscription.changed"
EVENT_ENDING = "subscription.ending"
EVENT_OVER_LIMIT = "subscription.over_limit"

ENDING_SUBJECT = _("Your %(plan)s plan ends on %(date)s")
ENDING_BODY = _("Your %(plan)s plan ends on %(date)s. After that you are on %(next)s; nothing is deleted, "
                "and what exceeds its limits is paused. See your plan: %(url)s")
ENDED_SUBJECT = _("Your plan is now %(plan)s")
OVER_LIMIT_BODY = _("These exceed the limits of %(plan)s and are paused or blocked from growing "
                    "(nothing was deleted):")
OVER_LIMIT_LINE = _("%(label)s: %(used)s of %(limit)s")

ACTIVE = SubscriptionStatus.ACTIVE
SCHEDULED = SubscriptionStatus.SCHEDULED
SYSTEM = Actor.system("coupons.subscriptions")


@dataclass(frozen=True)
class OverLimit:
    field: str
    label: str
    used: int
    limit: int


def limit_check(*, user: Any, field: str, used: int, adding: int = 1) -> None:
    """Refuse adding ``adding`` more to ``used`` past the user's plan limit ``field`` (ApplicationError
    with code ``plan_limit`` and the message naming the plan that lifts it). For every door that
    creates something a plan counts (strategies, deployments)."""
    limits = selectors.plan_limits(user=user)
    if used + adding > getattr(limits, field):
        raise ApplicationError(selectors.limit_message(limits=limits, field=field), code="plan_limit")


def over_limit_pause(*, user: Any) -> list[OverLimit]:
    """What exceeds the user's plan now, paused and never deleted; returns the list (empty: nothing).

    Strategies have no paused state: they stay, and creating more is refused (``limit_check``).
    Running deployments past ``max_real_deployments`` (real-money ones), then past
    ``max_running_deployments``, are paused, the newest first (``trading.live.services``; orders
    already sent stay, nothing new is decided until the user resumes within the plan).
    """
    _deployments_pause_over(user)
    return [OverLimit(field=item.field, label=item.label, used=item.used, limit=item.limit)
            for item in selectors.usage(user=user) if item.over
            and item.field in ("max_strategies", "max_running_deployments", "max_real_deployments")]


def _deployments_pause_over(user: Any) -> int:
    from trading.live.models import Deployment, DeploymentState
    from trading.live.services import deployment_pause

    limits = selectors.plan_limits(user=user)
    running = Deployment.objects.filter(owner=user, state=DeploymentState.RUNNING).order_by("-started_at", "-id")
    paused = 0
    for field, rows in (("max_real_deployments", running.filter(real_money=True)),
                        ("max_running_deployments", running)):
        limit = getattr(limits, field)
        over = list(rows)[:max(rows.count() - limit, 0)]
        for deployment in over:
            deployment_pause(actor=SYSTEM, deployment=deployment, code="plan_limit",
                             reason=gettext("Your plan allows {limit} of these running; this newest one is "
                                            "paused.").format(limit=limit))
            paused += 1
    return paused


def _plan_url() -> str:
    return f"{getattr(settings, 'SITE_URL', '').rstrip('/')}/plans/me/"


def _email(user: User, subject: str, body: str) -> None:
    if not user.email:
        return
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:  # noqa: BLE001 - a mail server down must not undo the plan change
        logger.exception("subscription email to user %s failed", user.pk)


def _next_plan_name(subscription: Subscription) -> str:
    following = (Subscription.objects.select_related("plan")
                 .filter(user_id=subscription.user_id, status=SCHEDULED).order_by("starts_at", "id").first())
    if following is not None:
        return following.plan.name
    default = selectors.default_plan()
    return default.name if default is not None else "Free"


def subscription_warn_due(*, now: dt.datetime | None = None) -> int:
    """Warn once 7 days and once 1 day before each active subscription ends; returns warnings sent."""
    now = now or timezone.now()
    due = (Subscription.objects.filter(status=ACTIVE, ends_at__gt=now, ends_at__lte=now + dt.timedelta(days=7))
           .filter(warned_7d_at__isnull=True) | Subscription.objects.filter(
               status=ACTIVE, ends_at__gt=now, ends_at__lte=now + dt.timedelta(days=1), warned_1d_at__isnull=True))
    sent = 0
    for pk in list(due.values_list("pk", flat=True)):
        sent += _warn(pk, now)
    return sent


def _warn(pk: int, now: dt.datetime) -> int:
    with transaction.atomic():
        subscription = (Subscription.objects.select_for_update().select_related("plan", "user")
                        .filter(pk=pk, status=ACTIVE).first())
        if subscription is None or subscription.ends_at is None:
            return 0
        left = subscription.ends_at - now
        final = left <= dt.timedelta(days=1)
        if (final and subscription.warned_1d_at) or (not final and subscription.warned_7d_at):
            return 0
        # the last day's warning stands for both: a 7-day warning after it would say less
        subscription.warned_7d_at = subscription.warned_7d_at or now
        if final:
            subscription.warned_1d_at = now
        subscription.save(update_fields=["warned_7d_at", "warned_1d_at", "updated_at"])
        which = "1d" if final else "7d"
        audit_record(actor=SYSTEM, action="subscription.warn", owner=subscription.user, target=subscription,
                     after={"warning": which, "ends_at": subscription.ends_at.isoformat()})
        events.publish(user_id=subscription.user_id, event=EVENT_ENDING,
                       payload={"plan": subscription.plan.code, "ends_at": subscription.ends_at.isoformat(),
                                "warning": which})
        user, plan, ends_at, next_name = subscription.user, subscription.plan, subscription.ends_at, \
            _next_plan_name(subscription)
        transaction.on_commit(lambda: _send_ending(user, plan.name, ends_at, next_name))
    return 1


def _send_ending(user: User, plan: str, ends_at: dt.datetime, next_name: str) -> None:
    with translation.override(user.language or settings.LANGUAGE_CODE):
        date = formats.date_format(timezone.localtime(ends_at), "DATETIME_FORMAT")
        params = {"plan": plan, "date": date, "next": next_name, "url": _plan_url()}
        _email(user, gettext(ENDING_SUBJECT) % params, gettext(ENDING_BODY) % params)


def subscription_end_due(*, now: dt.datetime | None = None) -> int:
    """Move every user whose active subscription ended (or whose scheduled one started) on; returns
    the users moved."""
    now = now or timezone.now()
    ended = Subscription.objects.filter(status=ACTIVE, ends_at__lte=now).values_list("user_id", flat=True)
    starting = (Subscription.objects.filter(status=SCHEDULED, starts_at__lte=now)
                .exclude(user__subscriptions__status=ACTIVE).values_list("user_id", flat=True))
    moved = 0
    for user in User.objects.filter(pk__in=set(ended) | set(starting)).order_by("pk"):
        moved += subscription_advance(actor=SYSTEM, user=user, now=now)
    return moved


def subscription_advance(*, actor: Actor, user: User, now: dt.datetime | None = None) -> int:
    """End the user's subscription if due and start the next scheduled one that is due (several if the
    task was away); tells the user and pauses what exceeds a smaller plan. Returns 1 if anything moved."""
    now = now or timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        before = selectors.plan_limits(user=user)
        changed = False
        while True:
            current = Subscription.objects.select_for_update().filter(user=user, status=ACTIVE).first()
            if current is not None and (current.ends_at is None or current.ends_at > now):
                break
            if current is not None:
                current.status, current.ended_at = SubscriptionStatus.ENDED, now
                current.save(update_fields=["status", "ended_at", "updated_at"])
                changed = True
            following = (Subscription.objects.select_for_update()
                         .filter(user=user, status=SCHEDULED, starts_at__lte=now).order_by("starts_at", "id").first())
            if following is None:
                break
            following.status = ACTIVE
            following.save(update_fields=["status", "updated_at"])
            changed = True
        if not changed:
            return 0
        after = selectors.plan_limits(user=user)
        paused = over_limit_pause(user=user) if after.plan_rank < before.plan_rank else []
        audit_record(actor=actor, action="subscription.advance", owner=user, object_type="coupons.subscription",
                     before={"plan": before.plan_code}, after={"plan": after.plan_code,
                                                               "over_limit": [asdict(item) for item in paused]})
        events.publish(user_id=user.pk, event=EVENT_CHANGED, payload={"plan": after.plan_code, "mode": "advance"})
        if paused:
            events.publish(user_id=user.pk, event=EVENT_OVER_LIMIT,
                           payload={"plan": after.plan_code, "items": [asdict(item) for item in paused]})
        transaction.on_commit(lambda: _send_ended(user, after.plan_name, paused))
    return 1


def _send_ended(user: User, plan: str, paused: list[OverLimit]) -> None:
    with translation.override(user.language or settings.LANGUAGE_CODE):
        lines = [gettext(ENDED_SUBJECT) % {"plan": plan}]
        if paused:
            lines.append(gettext(OVER_LIMIT_BODY) % {"plan": plan})
            lines += [gettext(OVER_LIMIT_LINE) % {"label": selectors.limit_label(item.field), "used": item.used,
                                                  "limit": item.limit} for item in paused]
        lines.append(_plan_url())
        _email(user, gettext(ENDED_SUBJECT) % {"plan": plan}, "\n".join(lines))
