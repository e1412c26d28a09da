"""Reads of announcements: the banners a visitor sees, cached briefly (they are read on every page).

A user sees the published announcements that have started and not expired, meant for everyone or
for them, that they have not dismissed; a resolved incident stays, saying so, until it expires or
is dismissed. Anonymous visitors see the maintenance and incident banners meant for everyone.

The cache holds one list per user (and one for visitors) under a version number: publishing,
resolving or editing bumps the version (every list is stale at once), a dismissal drops that
user's list. A start or an expiry shows within ``CACHE_SECONDS``.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from notifications.models import Announcement, AnnouncementDismissal

CACHE_SECONDS = 30
VERSION_KEY = "announcements:version"
ANONYMOUS_KINDS = (Announcement.Kind.MAINTENANCE, Announcement.Kind.INCIDENT)


def _version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, 1, timeout=None)
        version = cache.get(VERSION_KEY) or 1
    return int(version)


def _key(user: Any) -> str:
    who = user.pk if getattr(user, "is_authenticated", False) else "anonymous"
    return f"announcements:{_version()}:{who}"


def banners_invalidate() -> None:
    """Every cached list is stale (an announcement was published, resolved or edited)."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # not there (evicted, a fresh cache): any new number makes every old key unused
        cache.set(VERSION_KEY, int(timezone.now().timestamp()), timeout=None)


def banners_invalidate_for(user: Any) -> None:
    cache.delete(_key(user))


def _visible(user: Any) -> QuerySet[Announcement]:
    now = timezone.now()
    targeted = Announcement.affected_users.through.objects.filter(announcement_id=OuterRef("pk"))
    announcements = Announcement.objects.filter(published_at__isnull=False, starts_at__lte=now).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    if not getattr(user, "is_authenticated", False):
        return announcements.filter(~Exists(targeted), kind__in=ANONYMOUS_KINDS)
    dismissed = AnnouncementDismissal.objects.filter(announcement_id=OuterRef("pk"), user=user)
    return announcements.filter(~Exists(targeted) | Exists(targeted.filter(user=user)), ~Exists(dismissed))


def active_announcements(user: Any) -> list[Announcement]:
    """The banners ``user`` (or an anonymous visitor) sees now, newest first: one query, then cached."""
    key = _key(user)
    banners = cache.get(key)
    if banners is None:
        banners = list(_visible(user).order_by("-starts_at", "-id"))
        cache.set(key, banners, CACHE_SECONDS)
    return banners


def announcement_get_visible(*, user: Any, pk: int) -> Announcement:
    """Announcement ``pk`` if ``user`` may see (and so dismiss) it; Http404 otherwise."""
    now = timezone.now()
    targeted = Announcement.affected_users.through.objects.filter(announcement_id=OuterRef("pk"))
    visible = Announcement.objects.filter(published_at__isnull=False, starts_at__lte=now).filter(
        ~Exists(targeted) | Exists(targeted.filter(user=user)))
    return get_object_or_404(visible, pk=pk)


def affected_user_ids(announcement: Announcement) -> QuerySet:
    """Ids of the users told about ``announcement``: the chosen ones, or every active user."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    if announcement.affected_users.exists():
        users = users.filter(pk__in=announcement.affected_users.values("pk"))
    return users.order_by("pk").values_list("pk", flat=True)
