"""Reading the system settings: one cache read per request at most, the database on a miss.

The maintenance middleware opens a per-request memo (``request_scope``), so the banner, the
read-only rule, the sign-up adapter, the invite check and the deployment rules of one request share
one read. Outside a request (tasks, the shell) each call reads the cache."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache
from django.db import DatabaseError

from core.models_system import CACHE_KEY, SINGLETON_PK, SystemSettings

CACHE_SECONDS = 300  # a safety net: every save deletes the key
REQUEST_ATTRIBUTE = "_system_settings"
_memo: ContextVar[dict[str, SystemSettings] | None] = ContextVar("system_settings_memo", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """Within it, the settings are read once (the maintenance middleware wraps each request in it)."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _read() -> SystemSettings:
    row = cache.get(CACHE_KEY)
    if row is None:
        try:  # one query on a cold cache; no row yet means the defaults (the first change creates it)
            row = SystemSettings.objects.filter(pk=SINGLETON_PK).first() or SystemSettings(pk=SINGLETON_PK)
        except DatabaseError:  # a database not migrated yet (or gone): the defaults, nothing cached
            return SystemSettings(pk=SINGLETON_PK)
        cache.set(CACHE_KEY, row, CACHE_SECONDS)
    return row


def system_settings() -> SystemSettings:
    """The settings row (unsaved defaults until the first change); from the cache when it holds it."""
    memo = _memo.get()
    if memo is None:
        return _read()
    if "row" not in memo:
        memo["row"] = _read()
    return memo["row"]


def system_settings_for(request: Any) -> SystemSettings:
    """The settings for one request: read once, kept on the request too (for a stack without the middleware)."""
    row = getattr(request, REQUEST_ATTRIBUTE, None)
    if row is None:
        row = system_settings()
        setattr(request, REQUEST_ATTRIBUTE, row)
    return row
