"""Template context of the system settings: the maintenance banner of every page."""

from __future__ import annotations

from typing import Any

from core.system.selectors import system_settings_for


def maintenance(request: Any) -> dict[str, Any]:
    """``maintenance``: None, or {"message"} while maintenance mode is on (the same read as the middleware's)."""
    row = system_settings_for(request)
    if not row.maintenance_mode:
        return {"maintenance": None}
    return {"maintenance": {"message": row.maintenance_message}}
