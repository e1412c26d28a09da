"""Users' webhooks (owner: announcements/webhooks helper): signed JSON, retried, address-checked."""

from __future__ import annotations

from typing import Any


def webhook_enqueue(*, user: Any, kind: str, event: str, payload: dict[str, Any]) -> int:
    """Queue a delivery to each active endpoint of ``user`` that chose ``kind``; returns how many."""
    raise NotImplementedError
