"""Reads of the notification centre, always filtered by owner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from notifications import catalog
from notifications.models import Notification, NotificationPreference, NotificationSettings


@dataclass(frozen=True)
class Choice:
    """One kind's channels for one user (the saved row, else the catalogue's defaults)."""

    kind: catalog.Kind
    in_app: bool
    telegram: bool
    email: bool
    saved: bool

    def on(self, channel: str) -> bool:
        return bool(getattr(self, channel))


def notification_list(*, user: Any, unread: bool = False, category: str = "") -> QuerySet[Notification]:
    """``user``'s notifications, newest first; ``unread`` only, or those of one catalogue category."""
    rows = Notification.objects.filter(owner=user)
    if unread:
        rows = rows.filter(read_at__isnull=True)
    if category:
        rows = rows.filter(kind__in=[k.key for k in catalog.KINDS.values() if k.category == category])
    return rows.order_by("-created_at", "-id")


def notification_get(*, user: Any, pk: int) -> Notification:
    """One of ``user``'s notifications; Http404 for another user's or a missing one."""
    row = Notification.objects.filter(owner=user, pk=pk).first()
    if row is None:
        raise Http404("No such notification.")
    return row


def unread_count(*, user: Any) -> int:
    return Notification.objects.filter(owner=user, read_at__isnull=True).count()


def _choice(kind: catalog.Kind, row: NotificationPreference | None) -> Choice:
    if row is None:
        return Choice(kind=kind, saved=False, **{c: c in kind.channels for c in catalog.CHANNELS})
    return Choice(kind=kind, in_app=row.in_app, telegram=row.telegram, email=row.email, saved=True)


def preference_get(*, user: Any, kind: str) -> Choice:
    """The channels ``user`` chose for ``kind`` (the catalogue's defaults when never saved)."""
    row = NotificationPreference.objects.filter(owner=user, kind=kind).first()
    return _choice(catalog.KINDS[kind], row)


def preference_list(*, user: Any) -> list[Choice]:
    """Every kind of the catalogue with ``user``'s channels, in the catalogue's order."""
    rows = {row.kind: row for row in NotificationPreference.objects.filter(owner=user)}
    return [_choice(kind, rows.get(key)) for key, kind in catalog.KINDS.items()]


def settings_get(*, user: Any) -> NotificationSettings:
    """``user``'s quiet hours and digest (an unsaved row with the defaults when never saved)."""
    row = NotificationSettings.objects.filter(owner=user).first()
    return row if row is not None else NotificationSettings(owner=user)
