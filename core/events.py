"""One door out for user events: ``publish`` is how every service announces something.

``publish`` runs inside the service's transaction and delivers only on commit, so nothing rolled
back is ever announced. Delivery goes through the routes registered here: today the user's
websocket; the notifications issue adds the in-app centre, Telegram and email by preference.
A route that fails is logged and never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core import realtime

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    user_id: int
    name: str  # "backtest.finished", "broker.verified", "order.filled"…
    payload: dict[str, Any] = field(default_factory=dict)
    sent_at: str = ""


Route = Callable[[Event], None]


def _websocket(event: Event) -> None:
    realtime.group_send(realtime.user_group(event.user_id), {
        "type": "user.event",
        "event": event.name,
        "payload": event.payload,
        "sent_at": event.sent_at,
    })


ROUTES: list[Route] = [_websocket]


def route_add(route: Route) -> None:
    """Register a delivery route (an app's ``ready()``); added once."""
    if route not in ROUTES:
        ROUTES.append(route)


def publish(*, user_id: int, event: str, payload: dict[str, Any] | None = None) -> None:
    """Announce ``event`` to its user on commit of the current transaction (at once outside one)."""
    message = Event(user_id=user_id, name=event, payload=dict(payload or {}), sent_at=timezone.now().isoformat())
    transaction.on_commit(lambda: deliver(message))


def deliver(event: Event) -> None:
    for route in list(ROUTES):
        try:
            route(event)
        except Exception:  # noqa: BLE001 - one broken route must not silence the others
            logger.exception("event %s: route %s failed", event.name, getattr(route, "__name__", route))
