"""Fixtures of the Telegram bot tests: the fake Bot API the settings point at, chats for alice and
bob, and ``deliver`` (the outbox sends what the bot queued, over real HTTP to the fake)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation

from notifications.fakes.telegram_server import FakeTelegram, callback_update, message_update
from notifications.models.telegram import TelegramLink

ALICE_CHAT, BOB_CHAT, STRANGER_CHAT = 700_001, 700_002, 700_009
SECRET = "webhook-secret-for-tests"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def fake_telegram(settings) -> Iterator[FakeTelegram]:
    # no pace in the fake nor in the outbox: these tests are about what is answered, not when
    with FakeTelegram(chat_interval=0, global_per_second=10_000) as fake:
        settings.TELEGRAM_API_URL = fake.url
        settings.TELEGRAM_BOT_TOKEN = fake.token
        settings.TELEGRAM_BOT_USERNAME = fake.username
        settings.TELEGRAM_WEBHOOK_SECRET = SECRET
        settings.TELEGRAM_CHAT_SECONDS_PER_MESSAGE = 0
        settings.TELEGRAM_MESSAGES_PER_SECOND = 10_000
        yield fake


def english(user):
    user.language = "en"
    user.save(update_fields=["language"])
    return user


def link(user, chat_id: int, username: str = "") -> TelegramLink:
    return TelegramLink.objects.create(owner=user, chat_id=chat_id, username=username)


def deliver() -> int:
    """Send every queued message of the outbox (the delivery helper's sender) to the fake."""
    from notifications.models.telegram import TelegramMessage
    from notifications.telegram_delivery import chat_flush

    chats = set(TelegramMessage.objects.filter(state=TelegramMessage.State.QUEUED).values_list("chat_id", flat=True))
    for chat_id in chats:
        chat_flush(chat_id=chat_id)
    return len(chats)


def say(fake: FakeTelegram, chat_id: int, text: str, username: str = "") -> list[str]:
    """``text`` sent to the bot from ``chat_id`` (handled by the one door), then the new replies."""
    from notifications.telegram_updates import update_handle

    seen = len(fake.messages(chat_id))
    update_handle(message_update(chat_id, text, username, language_code="en"))
    deliver()
    return fake.texts(chat_id)[seen:]


def press(fake: FakeTelegram, chat_id: int, data: str) -> list[str]:
    """A press on the inline button ``data`` in ``chat_id``; the new replies."""
    from notifications.telegram_updates import update_handle

    seen = len(fake.messages(chat_id))
    update_handle(callback_update(chat_id, data, 1, language_code="en"))
    deliver()
    return fake.texts(chat_id)[seen:]


def buttons(fake: FakeTelegram, chat_id: int) -> list[tuple[str, str]]:
    """The (text, callback_data) of the last message with an inline keyboard in ``chat_id``."""
    for message in reversed(fake.messages(chat_id)):
        if message.reply_markup:
            return [(b["text"], b["callback_data"]) for row in message.reply_markup["inline_keyboard"] for b in row]
    return []
