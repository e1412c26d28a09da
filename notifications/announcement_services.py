"""Writes of announcements (maintenance, incidents, releases): create, update, publish, resolve an
incident, dismiss a banner.

Publishing and resolving are audited and, once committed, tell every affected user (the chosen
ones, or every active user when none is chosen) through ``core.events.publish`` in a task, in
chunks: ``announcement.published`` {id, kind, title, body, link} and ``announcement.resolved``
{id, kind, title, resolution, link}; the notification centre's catalogue keeps them as kind
``announcement``. Every write invalidates the banners' cache (``announcement_selectors``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import edge
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from notifications import announcement_selectors as selectors
from notifications.models import Announcement, AnnouncementDismissal

EVENT_PUBLISHED = "announcement.published"
EVENT_RESOLVED = "announcement.resolved"

ALREADY_PUBLISHED = _("This announcement is already published.")
NOT_PUBLISHED = _("Publish the incident before resolving it.")
NOT_AN_INCIDENT = _("Only an incident is resolved.")
ALREADY_RESOLVED = _("This incident is already resolved.")
RESOLUTION_REQUIRED = _("Say how the incident was resolved: the affected users read it.")
TITLE_REQUIRED = _("Give the announcement a title.")
EXPIRES_BEFORE_START = _("The end must come after the start.")

EDITABLE = ("kind", "title", "body", "starts_at", "expires_at", "resolution")


def _validate(announcement: Announcement) -> None:
    if not (announcement.title or "").strip():
        raise ApplicationError(str(TITLE_REQUIRED), field="title")
    if announcement.kind not in Announcement.Kind.values:
        raise ApplicationError(str(_("Choose a kind.")), field="kind")
    if announcement.expires_at and announcement.expires_at <= announcement.starts_at:
        raise ApplicationError(str(EXPIRES_BEFORE_START), field="expires_at")


def _snapshot(announcement: Announcement) -> dict[str, Any]:
    return {name: (value.isoformat() if isinstance(value, dt.datetime) else value)
            for name in (*EDITABLE, "published_at", "resolved_at") if (value := getattr(announcement, name)) is not None}


@transaction.atomic
def announcement_create(*, actor: Actor, kind: str, title: str, body: str = "", starts_at: dt.datetime | None = None,
                        expires_at: dt.datetime | None = None, affected_users: Any = ()) -> Announcement:
    """A draft: nobody sees it until it is published."""
    announcement = Announcement(kind=kind, title=(title or "").strip(), body=body or "",
                                starts_at=starts_at or timezone.now(), expires_at=expires_at,
                                created_by=actor.user if getattr(actor.user, "pk", None) else None)
    _validate(announcement)
    announcement.save()
    if affected_users:
        announcement.affected_users.set(affected_users)
    audit_record(actor=actor, action="announcement.created", owner=None, target=announcement,
                 after=_snapshot(announcement))
    return announcement


@transaction.atomic
def announcement_update(*, actor: Actor, announcement: Announcement, affected_users: Any = None,
                        **changes: Any) -> Announcement:
    """Change the text, kind, dates or affected users (an incident's progress, a later end…).

    Changing a published announcement changes its banner at once; nobody is told again."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"announcement_update: not editable: {sorted(unknown)}")
    before = _snapshot(Announcement.objects.get(pk=announcement.pk))
    for name, value in changes.items():
        setattr(announcement, name, value)
    _validate(announcement)
    announcement.save()
    if affected_users is not None:
        announcement.affected_users.set(affected_users)
    after = _snapshot(announcement)
    changed = [key for key in set(before) | set(after) if before.get(key) != after.get(key)]
    audit_record(actor=actor, action="announcement.updated", owner=None, target=announcement,
                 before={key: before.get(key) for key in changed}, after={key: after.get(key) for key in changed})
    transaction.on_commit(selectors.banners_invalidate)
    return announcement


@transaction.atomic
def announcement_publish(*, actor: Actor, announcement: Announcement) -> Announcement:
    """Show the banner (from its start) and tell the affected users, once committed."""
    from notifications.announcement_tasks import announcement_notify

    locked = Announcement.objects.select_for_update().get(pk=announcement.pk)
    if locked.published_at is not None:
        raise ApplicationError(str(ALREADY_PUBLISHED), code="already_published")
    announcement.published_at = timezone.now()
    announcement.save(update_fields=["published_at", "updated_at"])
    audit_record(actor=actor, action="announcement.published", owner=None, target=announcement,
                 after={"published_at": announcement.published_at.isoformat()})
    transaction.on_commit(selectors.banners_invalidate)
    transaction.on_commit(lambda: announcement_notify.delay(announcement_id=announcement.pk, event=EVENT_PUBLISHED))
    return announcement


@transaction.atomic
def announcement_resolve(*, actor: Actor, announcement: Announcement, resolution: str) -> Announcement:
    """The incident is over: its banner says how until it expires or is dismissed, and the affected
    users are told, once committed."""
    from notifications.announcement_tasks import announcement_notify

    resolution = (resolution or "").strip()
    locked = Announcement.objects.select_for_update().get(pk=announcement.pk)
    if locked.kind != Announcement.Kind.INCIDENT:
        raise ApplicationError(str(NOT_AN_INCIDENT), code="not_incident")
    if locked.published_at is None:
        raise ApplicationError(str(NOT_PUBLISHED), code="not_published")
    if locked.resolved_at is not None:
        raise ApplicationError(str(ALREADY_RESOLVED), code="already_resolved")
    if not resolution:
        raise ApplicationError(str(RESOLUTION_REQUIRED), field="resolution")
    announcement.resolved_at, announcement.resolution = timezone.now(), resolution
    announcement.save(update_fields=["resolved_at", "resolution", "updated_at"])
    audit_record(actor=actor, action="announcement.resolved", owner=None, target=announcement,
                 after={"resolved_at": announcement.resolved_at.isoformat(), "resolution": resolution})
    # a user who dismissed the incident sees it again, resolved: that is the news
    AnnouncementDismissal.objects.filter(announcement=announcement).delete()
    transaction.on_commit(selectors.banners_invalidate)
    transaction.on_commit(lambda: announcement_notify.delay(announcement_id=announcement.pk, event=EVENT_RESOLVED))
    return announcement


def announcement_dismiss(*, user: Any, announcement: Announcement) -> None:
    """Hide the banner for ``user`` (idempotent)."""
    try:
        with transaction.atomic():
            AnnouncementDismissal.objects.get_or_create(announcement=announcement, user=user)
    except IntegrityError:  # two tabs at once: dismissed either way
        pass
    selectors.banners_invalidate_for(user)
    # pages kept by the edge cache (a finished backtest's) hold the banner: not again after a dismissal
    edge.forget_user(user.pk)


def notice_payload(announcement: Announcement, event: str) -> dict[str, Any]:
    """What each affected user is told (the catalogue renders it)."""
    from django.urls import reverse

    payload = {"id": announcement.pk, "kind": announcement.kind, "title": announcement.title,
               "link": reverse("dashboard")}
    if event == EVENT_RESOLVED:
        payload["resolution"] = announcement.resolution
    else:
        payload["body"] = announcement.body
    return payload
