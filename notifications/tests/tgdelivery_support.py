"""Fixtures of the Telegram delivery tests: the fake Bot API at Telegram's real limits, a linked user."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connections

from accounts.tests.factories import UserFactory
from notifications.fakes.telegram_server import FakeTelegram
from notifications.models.telegram import TelegramLink

CHAT = 810_001
OTHER_CHAT = 810_002
OPS_CHAT = -100_810_009


@pytest.fixture
def fake_telegram(settings) -> Iterator[FakeTelegram]:
    """The fake enforces Telegram's limits (1 message/s per chat, 30/s overall) and the outbox keeps
    the real per-chat pace; the fake's 429s would catch any burst."""
    with FakeTelegram() as fake:
        settings.TELEGRAM_API_URL = fake.url
        settings.TELEGRAM_BOT_TOKEN = fake.token
        settings.TELEGRAM_BOT_USERNAME = fake.username
        settings.TELEGRAM_CHAT_SECONDS_PER_MESSAGE = 1.0
        settings.TELEGRAM_MESSAGES_PER_SECOND = 25.0
        yield fake


def linked_user(chat_id: int = CHAT, *, language: str = "en", email: str = ""):
    user = UserFactory(**({"email": email} if email else {}))
    user.language = language
    user.save(update_fields=["language"])
    TelegramLink.objects.create(owner=user, chat_id=chat_id, username=f"u{chat_id}")
    return user


def in_thread(target: Callable[[], object]) -> threading.Thread:
    """Run ``target`` in a thread of its own (its own database connection, closed at the end)."""

    def run() -> None:
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def gaps(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
