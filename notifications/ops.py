"""Operators' alerts (owner: Telegram delivery helper): the staff Telegram chat and email."""

from __future__ import annotations


def ops_alert(*, key: str, title: str, body: str = "", link: str = "") -> bool:
    """Tell the operators at once (staff chat + OPS_ALERT_EMAILS); the same ``key`` is sent once per
    quarter hour. Returns whether it was sent."""
    raise NotImplementedError
