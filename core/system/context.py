"""Template context of the system settings: the maintenance banner of every page."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.utils.functional import SimpleLazyObject

from core.system.selectors import system_settings_for


def maintenance(request: Any) -> dict[str, Any]:
    """``maintenance``: None, or {"message"} while maintenance mode is on (the same read as the middleware's),
    read when a template first uses it (every page's banner; not the htmx fragments)."""
    return {"maintenance": SimpleLazyObject(partial(_banner, request))}


def _banner(request: Any) -> dict[str, Any] | None:
    row = system_settings_for(request)
    if not row.maintenance_mode:
        return None
    return {"message": row.maintenance_message}
