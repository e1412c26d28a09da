"""The Telegram outbox (owner: Telegram delivery helper): queue per chat, Telegram's pace, coalescing.

Writers only queue a ``TelegramMessage`` row; on commit the chat's flush task
(``notifications.telegram_tasks.telegram_flush_chat``) is enqueued, and the delivery
(``notifications.telegram_delivery``) sends the chat's due messages at Telegram's pace. A lost
enqueue (broker down, a crash between commit and enqueue) is picked up by the beat sweep
``telegram_flush_due`` within seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from notifications.models.telegram import TelegramLink, TelegramMessage
from notifications.telegram import TEXT_LIMIT

logger = logging.getLogger("notifications.telegram")

ELLIPSIS = "…"


def fit_text(text: str) -> str:
    """``text`` cut to Telegram's 4096 characters (an ellipsis marks the cut)."""
    text = text.strip()
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1].rstrip() + ELLIPSIS


def alert_enqueue(*, user: Any, text: str, kind: str = "alert", coalesce_key: str = "", notification: Any = None,
                  not_before: dt.datetime | None = None, reply_markup: dict | None = None) -> TelegramMessage | None:
    """Queue a message to ``user``'s linked chat (None when no chat is linked); sent on commit at the chat's pace,
    not before ``not_before`` (quiet hours). Queued alerts of one chat with the same ``coalesce_key`` go out as one."""
    link = TelegramLink.objects.filter(owner=user).only("chat_id").first()
    if link is None:
        return None
    return message_enqueue(chat_id=link.chat_id, text=text, owner=user, kind=kind, coalesce_key=coalesce_key,
                           notification=notification, not_before=not_before, reply_markup=reply_markup)


def reply_enqueue(*, chat_id: int, text: str, owner: Any = None, reply_markup: dict | None = None) -> TelegramMessage:
    """Queue an answer to a command in ``chat_id`` (ahead of alerts of the same chat)."""
    return message_enqueue(chat_id=chat_id, text=text, owner=owner, kind=TelegramMessage.Kind.REPLY,
                           reply_markup=reply_markup)


def message_enqueue(*, chat_id: int, text: str, owner: Any = None, kind: str = TelegramMessage.Kind.ALERT,
                    coalesce_key: str = "", notification: Any = None, not_before: dt.datetime | None = None,
                    reply_markup: dict | None = None) -> TelegramMessage:
    """Queue one message to any chat (the operators' chat too); the chat's flush is enqueued on commit."""
    with transaction.atomic():
        message = TelegramMessage.objects.create(
            chat_id=int(chat_id), owner=owner, kind=kind, text=fit_text(text), reply_markup=reply_markup,
            coalesce_key=coalesce_key[:64], notification=notification, not_before=not_before)
        delay = (not_before - timezone.now()).total_seconds() if not_before else 0.0
        transaction.on_commit(lambda: flush_schedule(chat_id=int(chat_id), countdown=delay))
    return message


def flush_schedule(*, chat_id: int, countdown: float = 0.0) -> None:
    """Enqueue the chat's flush (after ``countdown`` s). A broker that cannot take it is logged: the
    beat sweep finds the chat's due messages anyway."""
    from notifications.telegram_tasks import telegram_flush_chat

    try:
        if countdown > 0:
            telegram_flush_chat.apply_async(args=[chat_id], countdown=countdown)
        else:
            telegram_flush_chat.delay(chat_id)
    except Exception:  # noqa: BLE001 - the queued rows are safe; the sweep sends them
        logger.warning("telegram: could not enqueue the flush of a chat; the sweep will", exc_info=True)


__all__ = ["alert_enqueue", "fit_text", "flush_schedule", "message_enqueue", "reply_enqueue"]
