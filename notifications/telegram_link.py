"""Linking a Telegram chat to a user: a one-time deep link, the bot's ``/start <token>``, unlinking.

- ``telegram_link_start`` makes a fresh token (only its sha256 is stored), invalidates the user's
  earlier unused ones and returns ``https://t.me/<bot>?start=<token>``, valid for
  ``TELEGRAM_LINK_TOKEN_MINUTES``.
- ``telegram_link_bind`` (the bot's ``/start <token>``) binds the chat: the token is single-use and
  short-lived; a chat already linked to another user is refused; a user linked elsewhere moves to
  the new chat (one chat per user, one user per chat).
- ``telegram_unlink`` from the web page, the API or the bot (``/stop``, ``/unlink``).

Each is audited (door ``web`` or ``telegram``) and announced (``telegram.linked`` / ``telegram.unlinked``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import events
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from notifications.models.telegram import TelegramLink, TelegramLinkToken

MESSAGE_NOT_CONFIGURED = _("Telegram is not configured on this server.")
MESSAGE_TOKEN_INVALID = _("This link is not valid (already used, replaced by a newer one, or unknown). "
                          "Get a new link on the notification settings page.")
MESSAGE_TOKEN_EXPIRED = _("This link has expired. Get a new link on the notification settings page.")
MESSAGE_CHAT_TAKEN = _("This Telegram chat is already linked to another account. Unlink it there first.")


@dataclass(frozen=True)
class DeepLink:
    url: str
    expires_at: dt.datetime
    minutes: int


def telegram_configured() -> bool:
    """Whether the bot can work here: a token to talk to Telegram and a username for the deep link."""
    return bool(getattr(settings, "TELEGRAM_BOT_TOKEN", "") and getattr(settings, "TELEGRAM_BOT_USERNAME", ""))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def telegram_link_get(*, user: Any) -> TelegramLink | None:
    """The user's linked chat, or None."""
    return TelegramLink.objects.filter(owner=user).first()


def telegram_link_of_chat(*, chat_id: int) -> TelegramLink | None:
    """The link of a chat (with its user), or None for a chat nobody linked."""
    return TelegramLink.objects.filter(chat_id=chat_id).select_related("owner").first()


def telegram_link_start(*, user: Any, door: str = "web") -> DeepLink:
    """A new one-time deep link for ``user``; earlier unused tokens of theirs stop working.
    Raises ``ApplicationError`` when the bot is not configured."""
    if not telegram_configured():
        raise ApplicationError(str(MESSAGE_NOT_CONFIGURED), code="telegram_not_configured")
    minutes = int(getattr(settings, "TELEGRAM_LINK_TOKEN_MINUTES", 10))
    token = secrets.token_urlsafe(24)  # 32 characters: well within /start's 64-character payload
    now = timezone.now()
    with transaction.atomic():
        TelegramLinkToken.objects.filter(owner=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        row = TelegramLinkToken.objects.create(owner=user, token_hash=token_hash(token),
                                               expires_at=now + dt.timedelta(minutes=minutes))
        audit_record(actor=Actor.of_user(user, door=door), action="telegram.link_start", owner=user,
                     object_type="notifications.telegramlinktoken", object_id=str(row.pk),
                     after={"expires_at": row.expires_at.isoformat()})
    return DeepLink(url=f"https://t.me/{settings.TELEGRAM_BOT_USERNAME}?start={token}", expires_at=row.expires_at,
                    minutes=minutes)


def telegram_link_bind(*, token: str, chat_id: int, username: str = "") -> TelegramLink:
    """Bind ``chat_id`` to the user whose token this is. Raises ``ApplicationError`` with code
    ``token_invalid``, ``token_expired`` or ``chat_taken``."""
    now = timezone.now()
    with transaction.atomic():
        row = (TelegramLinkToken.objects.select_for_update().select_related("owner")
               .filter(token_hash=token_hash(token or "")).first())
        if row is None or row.used_at is not None:
            raise ApplicationError(str(MESSAGE_TOKEN_INVALID), code="token_invalid")
        if row.expires_at <= now:
            raise ApplicationError(str(MESSAGE_TOKEN_EXPIRED), code="token_expired")
        user = row.owner
        other = TelegramLink.objects.select_for_update().filter(chat_id=chat_id).exclude(owner=user).first()
        if other is not None:
            raise ApplicationError(str(MESSAGE_CHAT_TAKEN), code="chat_taken")
        row.used_at = now
        row.save(update_fields=["used_at"])
        link = TelegramLink.objects.select_for_update().filter(owner=user).first()
        before = {"chat_linked": link is not None}
        if link is None:
            link = TelegramLink.objects.create(owner=user, chat_id=chat_id, username=username[:64])
        else:  # moved to this chat (or the same chat again, with a new username)
            link.chat_id, link.username, link.linked_at = chat_id, username[:64], now
            link.save(update_fields=["chat_id", "username", "linked_at"])
        audit_record(actor=Actor.of_user(user, door="telegram"), action="telegram.link", owner=user, target=link,
                     before=before, after={"username": link.username})
        events.publish(user_id=user.pk, event="telegram.linked", payload={"username": link.username})
    return link


def telegram_unlink(*, user: Any, door: str = "web") -> bool:
    """Forget the user's chat; False when none was linked (nothing audited then)."""
    with transaction.atomic():
        link = TelegramLink.objects.select_for_update().filter(owner=user).first()
        if link is None:
            return False
        username = link.username
        audit_record(actor=Actor.of_user(user, door=door), action="telegram.unlink", owner=user, target=link,
                     before={"username": username}, after={})
        link.delete()
        events.publish(user_id=user.pk, event="telegram.unlinked", payload={"username": username})
    return True


__all__ = ["DeepLink", "telegram_configured", "telegram_link_bind", "telegram_link_get", "telegram_link_of_chat",
           "telegram_link_start", "telegram_unlink"]
