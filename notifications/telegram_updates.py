"""The one door of the bot: ``update_handle(update)`` for the webhook and the polling command alike.

- ``/start <token>`` binds the chat (``telegram_link.telegram_link_bind``); ``/stop`` and ``/unlink``
  unlink it;
- any other command from a chat nobody linked gets a short "link your account first" and no data;
- commands of a linked chat run in its user's language (``telegram_commands.command_run``);
- ``callback_query`` (a confirmation button) is answered with ``answer_callback_query`` and its
  result sent as a reply.

Every reply goes through the outbox (``notifications.outbox.reply_enqueue``), so Telegram's pace
per chat is respected. Raises nothing for a malformed update (it is logged and ignored).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from core.errors import ApplicationError
from notifications import telegram_commands
from notifications.telegram_link import telegram_link_bind, telegram_link_of_chat, telegram_unlink

logger = logging.getLogger(__name__)


def _reply(chat_id: int, text: str, *, owner: Any = None, reply_markup: dict | None = None) -> None:
    from notifications.outbox import reply_enqueue

    reply_enqueue(chat_id=chat_id, text=text, owner=owner, reply_markup=reply_markup)


def _language_of(sender: dict) -> str:
    """For a chat nobody linked: the sender's Telegram language when we have it, else the site's."""
    code = str(sender.get("language_code") or "")[:2].lower()
    languages = {code for code, _name in settings.LANGUAGES}
    return code if code in languages else settings.LANGUAGE_CODE


def parse_command(text: str) -> tuple[str, list[str]] | None:
    """``("pause", ["3"])`` for ``/pause@our_bot 3``; None for text that is not a command."""
    text = (text or "").strip()
    if not text.startswith("/"):
        return None
    head, *args = text.split()
    command = head[1:].split("@", 1)[0].lower()
    return (command, args) if command else None


def update_handle(update: dict) -> None:
    """Handle one Telegram update (a message or a button press); the replies go to the outbox."""
    if not isinstance(update, dict):
        logger.warning("telegram update ignored: not an object")
        return
    if isinstance(update.get("callback_query"), dict):
        _callback(update["callback_query"])
        return
    message = update.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
        return  # edited messages, channel posts, member updates: nothing for us
    chat = message["chat"]
    if chat.get("type", "private") != "private" or not isinstance(chat.get("id"), int):
        return  # the bot answers in private chats only: a group would show one user's data to others
    _message(chat["id"], message.get("from") or {}, str(message.get("text") or ""))


def _message(chat_id: int, sender: dict, text: str) -> None:
    parsed = parse_command(text)
    link = telegram_link_of_chat(chat_id=chat_id)
    if parsed and parsed[0] == "start" and parsed[1]:
        _start(chat_id, sender, parsed[1][0])
        return
    if link is None:
        with translation.override(_language_of(sender)):
            _reply(chat_id, _("Link your account first: open the notification settings on the website and "
                              "use the Telegram link there."))
        return
    user = link.owner
    with translation.override(user.language):
        if parsed is None:
            _reply(chat_id, _("Send /help for the list of commands."), owner=user)
        elif parsed[0] == "start":
            _reply(chat_id, _("This chat is linked to your account.") + "\n\n" + telegram_commands.help_text(),
                   owner=user)
        elif parsed[0] in ("stop", "unlink"):
            telegram_unlink(user=user, door="telegram")
            _reply(chat_id, _("This chat is unlinked: you get no more alerts here. Link it again from the "
                              "website when you want."))
        else:
            answer = telegram_commands.command_run(link=link, command=parsed[0], args=parsed[1])
            _reply(chat_id, answer.text, owner=user, reply_markup=answer.reply_markup)


def _start(chat_id: int, sender: dict, token: str) -> None:
    try:
        link = telegram_link_bind(token=token, chat_id=chat_id, username=str(sender.get("username") or ""))
    except ApplicationError as refused:
        with translation.override(_language_of(sender)):
            _reply(chat_id, str(refused.message))
        return
    with translation.override(link.owner.language):
        _reply(chat_id, _("Linked: this chat now gets your alerts and answers your commands.") + "\n\n"
               + telegram_commands.help_text(), owner=link.owner)


def _callback(query: dict) -> None:
    from notifications.telegram import TelegramError, client_from_settings

    message = query.get("message") or {}
    chat_id = (message.get("chat") or {}).get("id")
    data = str(query.get("data") or "")
    link = telegram_link_of_chat(chat_id=chat_id) if isinstance(chat_id, int) else None
    if link is None:
        with translation.override(_language_of(query.get("from") or {})):
            answer = _("Link your account first.")
    else:
        with translation.override(link.owner.language):
            reply = telegram_commands.button_press(link=link, data=data)
            # the toast on the button: the first line of the answer, which also comes as a message
            answer = reply.text.splitlines()[0][:200] if reply is not None else ""
            if reply is not None:
                _reply(link.chat_id, reply.text, owner=link.owner)
    try:  # stops the button's spinner; a failure here changes nothing of what was done
        client_from_settings().answer_callback_query(str(query.get("id") or ""), text=answer)
    except TelegramError as failed:
        logger.warning("telegram answerCallbackQuery failed: %s", failed)


__all__ = ["parse_command", "update_handle"]
