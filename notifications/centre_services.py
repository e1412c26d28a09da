"""Writes of the notification centre: preferences, quiet hours and digest, marking read.

Every function is keyword-only and atomic; the new unread count is pushed to the user's pages on commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import Actor, audit_record
from core.errors import ApplicationError
from notifications import catalog
from notifications.models import Notification, NotificationPreference, NotificationSettings
from notifications.routing import unread_push

UNKNOWN_KIND = _("Unknown notification type: %(kind)s.")
UNKNOWN_CHANNEL = _("Unknown channel: %(channel)s.")
QUIET_BOTH = _("Give both the start and the end of the quiet hours, or neither.")
QUIET_SAME = _("The quiet hours cannot start and end at the same time.")
DIGEST_HOUR_RANGE = _("Choose an hour from 0 to 23.")


def preferences_save(*, actor: Actor, user: Any, choices: Mapping[str, Mapping[str, bool]]) -> list[NotificationPreference]:
    """Save ``user``'s channels per kind: ``{"order_filled": {"in_app": True, "telegram": False, ...}}``.

    A kind left out keeps what it had; a channel left out of a kind keeps what it had (the default
    when never saved). Raises ApplicationError (field ``preferences``) for an unknown kind or channel.
    """
    for key, channels in choices.items():
        if key not in catalog.KINDS:
            raise ApplicationError(str(UNKNOWN_KIND) % {"kind": key}, field="preferences", code="unknown_kind")
        for channel in channels:
            if channel not in catalog.CHANNELS:
                raise ApplicationError(str(UNKNOWN_CHANNEL) % {"channel": channel}, field="preferences",
                                       code="unknown_channel")
    saved, before, after = [], {}, {}
    with transaction.atomic():
        rows = {row.kind: row for row in NotificationPreference.objects.select_for_update().filter(owner=user)}
        for key, channels in choices.items():
            kind = catalog.KINDS[key]
            row = rows.get(key) or NotificationPreference(
                owner=user, kind=key, **{c: c in kind.channels for c in catalog.CHANNELS})
            old = {c: getattr(row, c) for c in catalog.CHANNELS}
            for channel, on in channels.items():
                setattr(row, channel, bool(on))
            new = {c: getattr(row, c) for c in catalog.CHANNELS}
            if row.pk is None or old != new:
                row.save()
                before[key], after[key] = old, new
            saved.append(row)
        if after:
            audit_record(actor=actor, action="notifications.preferences", owner=user,
                         object_type="notifications.notificationpreference", before=before, after=after)
    return saved


def settings_save(*, actor: Actor, user: Any, quiet_start: dt.time | None, quiet_end: dt.time | None,
                  digest_daily: bool, digest_hour: int) -> NotificationSettings:
    """Save quiet hours (in the user's time zone; start after end spans midnight) and the daily digest."""
    if (quiet_start is None) != (quiet_end is None):
        raise ApplicationError(str(QUIET_BOTH), field="quiet_end" if quiet_end is None else "quiet_start",
                               code="quiet_hours")
    if quiet_start is not None and quiet_start == quiet_end:
        raise ApplicationError(str(QUIET_SAME), field="quiet_end", code="quiet_hours")
    if not isinstance(digest_hour, int) or not 0 <= digest_hour <= 23:
        raise ApplicationError(str(DIGEST_HOUR_RANGE), field="digest_hour", code="digest_hour")
    with transaction.atomic():
        row, _created = NotificationSettings.objects.select_for_update().get_or_create(owner=user)
        fields = ("quiet_start", "quiet_end", "digest_daily", "digest_hour")
        before = {f: _text(getattr(row, f)) for f in fields}
        row.quiet_start, row.quiet_end = quiet_start, quiet_end
        row.digest_daily, row.digest_hour = bool(digest_daily), digest_hour
        row.save()
        after = {f: _text(getattr(row, f)) for f in fields}
        if before != after:
            audit_record(actor=actor, action="notifications.settings", owner=user, target=row, before=before,
                         after=after)
    return row


def _text(value: Any) -> Any:
    return value.strftime("%H:%M") if isinstance(value, dt.time) else value


def notification_mark_read(*, user: Any, notification: Notification) -> Notification:
    """Mark one of ``user``'s notifications read (again: no change)."""
    with transaction.atomic():
        updated = Notification.objects.filter(pk=notification.pk, owner=user, read_at__isnull=True).update(
            read_at=timezone.now())
        notification.refresh_from_db(fields=["read_at"])
        if updated:
            transaction.on_commit(lambda: unread_push(user_id=user.pk))
    return notification


def notifications_mark_all_read(*, user: Any, category: str = "") -> int:
    """Mark every unread notification of ``user`` (of one category) read; how many."""
    with transaction.atomic():
        rows = Notification.objects.filter(owner=user, read_at__isnull=True)
        if category:
            rows = rows.filter(kind__in=[k.key for k in catalog.KINDS.values() if k.category == category])
        count = rows.update(read_at=timezone.now())
        if count:
            transaction.on_commit(lambda: unread_push(user_id=user.pk))
    return count


# -- the daily digest --------------------------------------------------------------------------------
def digests_send(*, now: dt.datetime | None = None) -> int:
    """Send the daily digest to every user whose local hour is their digest hour and who has not had
    today's; how many were sent. Run hourly (or more often: a user gets at most one a day)."""
    from notifications.routing import user_zone

    now = now or timezone.now()
    sent = 0
    for row in NotificationSettings.objects.filter(digest_daily=True, owner__is_active=True).select_related("owner"):
        local = now.astimezone(user_zone(row.owner))
        if local.hour == row.digest_hour and row.digest_sent_on != local.date():
            sent += digest_send(user=row.owner, local_now=local)
    return sent


def digest_send(*, user: Any, local_now: dt.datetime) -> int:
    """``user``'s digest of their local day up to ``local_now`` (email, and Telegram when linked and
    chosen for some kind); marks the day sent. 1 when something was sent, 0 otherwise."""
    import logging

    from notifications import emails
    from notifications.centre_selectors import preference_list

    day = local_now.date()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=local_now.tzinfo)
    with transaction.atomic():
        row = NotificationSettings.objects.select_for_update().get(owner=user)
        if row.digest_sent_on == day:
            return 0
        row.digest_sent_on = day
        row.save(update_fields=["digest_sent_on", "updated_at"])
        notifications = list(Notification.objects.filter(owner=user, created_at__gte=start,
                                                         created_at__lte=local_now).order_by("-created_at"))
        if not notifications:
            return 0
        emails.digest_email(user=user, notifications=notifications, day=day)
        if any(choice.telegram for choice in preference_list(user=user)):
            try:
                with transaction.atomic():
                    _digest_telegram(user=user, notifications=notifications, day=day)
            except Exception:  # noqa: BLE001 - the email went; Telegram failing must not undo it
                logging.getLogger(__name__).exception("Telegram digest failed for user %s", user.pk)
    return 1


def _digest_telegram(*, user: Any, notifications: list[Notification], day: dt.date) -> Any:
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext, ngettext

    from notifications.outbox import alert_enqueue

    with translation.override(user.language or settings.LANGUAGE_CODE):
        head = ngettext("%(count)d notification on %(day)s", "%(count)d notifications on %(day)s",
                        len(notifications)) % {"count": len(notifications), "day": day.isoformat()}
        lines = [head, *(f"• {n.title}" for n in notifications[:30])]
        if len(notifications) > 30:
            lines.append(gettext("…and %(count)d more") % {"count": len(notifications) - 30})
        lines.append(f"{settings.SITE_URL}/notifications/")
    return alert_enqueue(user=user, text="\n".join(lines), kind="digest")
