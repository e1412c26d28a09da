"""Writes of subscriptions: grant a plan, end what is due, warn before the end, pause what is over a limit.

A user's subscriptions form a queue: at most one ``active`` (now), then ``scheduled`` ones back to
back. ``subscription_grant`` puts a higher plan at the front (the interrupted one's remainder is
re-created as scheduled after it), extends the same plan, and queues a lower plan at the end. Every
call writes an audit row with its actor and announces ``subscription.changed`` on commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from core import events
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from coupons.models import Plan, Subscription, SubscriptionStatus

logger = logging.getLogger(__name__)

EVENT_CHANGED = "subscription.changed"

DAYS_NOT_POSITIVE = _("Enter a number of days of at least 1.")
DAYS_TOO_MANY = _("Enter at most 3650 days.")
DEFAULT_PLAN_NOT_GRANTED = _("Everyone is on the default plan already: grant another plan.")
NOT_APPLIED_ENDLESS = _("Not applied: the current plan has no end.")
MAX_GRANT_DAYS = 3650

ACTIVE = SubscriptionStatus.ACTIVE
SCHEDULED = SubscriptionStatus.SCHEDULED


def _shift(subscriptions: list[Subscription], delta: dt.timedelta) -> None:
    for queued in subscriptions:
        queued.starts_at += delta
        if queued.ends_at is not None:
            queued.ends_at += delta
        queued.save(update_fields=["starts_at", "ends_at", "updated_at"])


def _lock_queue(user: User) -> tuple[Subscription | None, list[Subscription]]:
    """Lock the user's row and live subscriptions (serialises grants and the end-of-plan task per user)."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    live = list(Subscription.objects.select_for_update().select_related("plan")
                .filter(user=user, status__in=[ACTIVE, SCHEDULED]).order_by("starts_at", "id"))
    current = next((s for s in live if s.status == ACTIVE), None)
    return current, [s for s in live if s.status == SCHEDULED]


def subscription_grant(
    *, actor: Actor, user: User, plan: Plan, days: int, source: str, note: str = "", granted_by: Any = None,
) -> Subscription:
    """Give ``user`` ``days`` of ``plan``; returns the subscription that holds the grant.

    Higher than the current plan: starts now; the current one ends and its remainder (or its
    endless rest) is scheduled after the grant. Same plan: the current end moves by ``days``
    (returns the current subscription). Lower: scheduled after the queue; if the current plan has
    no end it can never start, so it is recorded as cancelled with a note. Raises ApplicationError
    for a non-positive or huge ``days`` or for the default plan.
    """
    if days < 1:
        raise ApplicationError(str(DAYS_NOT_POSITIVE), field="days")
    if days > MAX_GRANT_DAYS:
        raise ApplicationError(str(DAYS_TOO_MANY), field="days")
    if plan.is_default:
        raise ApplicationError(str(DEFAULT_PLAN_NOT_GRANTED), field="plan")
    length = dt.timedelta(days=days)
    now = timezone.now()
    fields = {"user": user, "plan": plan, "source": source, "note": note[:300], "granted_by": granted_by}
    with transaction.atomic():
        current, queued = _lock_queue(user)
        before = _state(current)
        if current is None:
            mode = "start"
            granted = Subscription.objects.create(status=ACTIVE, starts_at=now, ends_at=now + length, **fields)
        elif plan.rank > current.plan.rank:
            mode = "upgrade"
            _shift(queued, length)
            granted = _interrupt(current, now=now, length=length, fields=fields)
        elif plan.pk == current.plan_id:
            mode = "extend"
            if current.ends_at is not None:
                current.ends_at += length
                current.warned_7d_at = current.warned_1d_at = None
                current.save(update_fields=["ends_at", "warned_7d_at", "warned_1d_at", "updated_at"])
                _shift(queued, length)
            granted = current
        else:
            mode = "scheduled"
            tail = queued[-1] if queued else current
            if tail.ends_at is None:
                mode = "not_applied"
                granted = Subscription.objects.create(
                    status=SubscriptionStatus.CANCELLED, starts_at=now, ends_at=now + length, ended_at=now,
                    **{**fields, "note": f"{note} {NOT_APPLIED_ENDLESS}".strip()[:300]})
            else:
                granted = Subscription.objects.create(status=SCHEDULED, starts_at=tail.ends_at,
                                                      ends_at=tail.ends_at + length, **fields)
        audit_record(actor=actor, action="subscription.grant", owner=user, target=granted, before=before,
                     after={**_state(granted), "mode": mode, "days": days, "granted_plan": plan.code},
                     reason=note)
        events.publish(user_id=user.pk, event=EVENT_CHANGED,
                       payload={"plan": plan.code, "mode": mode, "subscription": granted.pk, "source": source})
    return granted


def _interrupt(current: Subscription, *, now: dt.datetime, length: dt.timedelta,
               fields: dict[str, Any]) -> Subscription:
    """End ``current`` now, start the grant, and schedule what was left of ``current`` after it."""
    left = None if current.ends_at is None else current.ends_at - now
    current.status = SubscriptionStatus.ENDED
    current.ended_at = now
    current.save(update_fields=["status", "ended_at", "updated_at"])
    granted = Subscription.objects.create(status=ACTIVE, starts_at=now, ends_at=now + length, **fields)
    if left is None or left > dt.timedelta(0):
        Subscription.objects.create(
            user_id=current.user_id, plan=current.plan, source=current.source, status=SCHEDULED,
            starts_at=granted.ends_at, ends_at=None if left is None else granted.ends_at + left,
            note=current.note, granted_by=current.granted_by)
    return granted


def _state(subscription: Subscription | None) -> dict[str, Any]:
    if subscription is None:
        return {"plan": None}
    return {"subscription": subscription.pk, "plan": subscription.plan.code, "status": subscription.status,
            "starts_at": subscription.starts_at.isoformat(),
            "ends_at": subscription.ends_at.isoformat() if subscription.ends_at else None}


# the end of a subscription lives in its own module; these are its doors' names
from coupons.lifecycle import (  # noqa: E402
    limit_check, over_limit_pause, subscription_advance, subscription_end_due, subscription_warn_due,
)

__all__ = ["limit_check", "over_limit_pause", "subscription_advance", "subscription_end_due", "subscription_grant",
           "subscription_warn_due"]
