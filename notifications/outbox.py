"""The Telegram outbox (owner: Telegram delivery helper): queue per chat, Telegram's pace, coalescing."""

from __future__ import annotations

import datetime as dt
from typing import Any


def alert_enqueue(*, user: Any, text: str, kind: str = "alert", coalesce_key: str = "", notification: Any = None,
                  not_before: dt.datetime | None = None, reply_markup: dict | None = None) -> Any:
    """Queue a message to ``user``'s linked chat (None when no chat is linked); sent on commit at the chat's pace."""
    raise NotImplementedError


def reply_enqueue(*, chat_id: int, text: str, owner: Any = None, reply_markup: dict | None = None) -> Any:
    """Queue an answer to a command in ``chat_id`` (ahead of alerts of the same chat)."""
    raise NotImplementedError
