"""Template context of announcements: the banners the visitor has not dismissed (cached briefly)."""

from __future__ import annotations

from functools import partial

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from notifications.announcement_selectors import active_announcements


def announcements(request: HttpRequest) -> dict:
    """``announcements``, read (one cache read) when a template first uses it: every page's banners do,
    the htmx fragments rendered with the same context processors do not."""
    user = getattr(request, "user", None)
    return {"announcements": SimpleLazyObject(partial(active_announcements, user))}
