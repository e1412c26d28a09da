"""Reading the system settings: one cache read per request at most, the database on a miss."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import DatabaseError

from core.models_system import CACHE_KEY, SINGLETON_PK, SystemSettings

CACHE_SECONDS = 300  # a safety net: every save deletes the key
REQUEST_ATTRIBUTE = "_system_settings"


def system_settings() -> SystemSettings:
    """The settings row (created with the defaults on first use); from the cache when it holds it."""
    row = cache.get(CACHE_KEY)
    if row is None:
        try:
            row, _created = SystemSettings.objects.get_or_create(pk=SINGLETON_PK)
        except DatabaseError:  # a database not migrated yet (or gone): the defaults, nothing cached
            return SystemSettings(pk=SINGLETON_PK)
        cache.set(CACHE_KEY, row, CACHE_SECONDS)
    return row


def system_settings_for(request: Any) -> SystemSettings:
    """The settings for one request: read once, kept on the request (middleware and context share it)."""
    row = getattr(request, REQUEST_ATTRIBUTE, None)
    if row is None:
        row = system_settings()
        setattr(request, REQUEST_ATTRIBUTE, row)
    return row
