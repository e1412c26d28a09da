"""Routing of published events (owner: centre helper): catalogue kind -> in-app row, Telegram, email,
webhook, by the user's preferences and quiet hours. Registered with ``core.events.route_add``."""

from __future__ import annotations

from typing import Any


def notification_send(*, user: Any, event: str, payload: dict[str, Any]) -> Any:
    """Route one event of ``user`` now (the same path as a published event). Returns the Notification or None."""
    raise NotImplementedError
