"""Template context of announcements: the banners the visitor has not dismissed (cached briefly)."""

from __future__ import annotations

from django.http import HttpRequest

from notifications.announcement_selectors import active_announcements


def announcements(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    return {"announcements": active_announcements(user)}
