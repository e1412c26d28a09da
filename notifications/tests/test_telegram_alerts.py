"""Published events reach the linked Telegram chat (over real HTTP to the fake Bot API): the whole
path publish -> routing -> outbox -> flush, in the user's language, and quiet hours honoured."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core import events
from notifications import outbox, routing
from notifications.models.centre import NotificationSettings
from notifications.models.telegram import TelegramMessage
from notifications.telegram_delivery import chat_flush, due_sweep
from notifications.tests.tgdelivery_support import CHAT, fake_telegram, linked_user

__all__ = ["fake_telegram"]

FILL = {"id": 41, "symbol": "005930", "side": "buy", "quantity": "10", "filled_quantity": "10",
        "average_fill_price": "70100"}


@pytest.fixture
def flush_at_once(monkeypatch):
    """The flush task an enqueue asks for runs at once, in this thread (held messages wait)."""

    def flush(*, chat_id: int, countdown: float = 0.0) -> None:
        if countdown <= 0:
            chat_flush(chat_id=chat_id)

    monkeypatch.setattr(outbox, "flush_schedule", flush)


def publish(django_capture_on_commit_callbacks, user, event: str, payload: dict) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(user_id=user.pk, event=event, payload=payload)


@pytest.mark.django_db
def test_the_routing_is_a_registered_route():
    assert routing.route in events.ROUTES


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "side", "other_side"), [("ko", "매수", "Buy"), ("en", "Buy", "매수")])
def test_a_published_fill_arrives_in_the_linked_chat_in_the_users_language(
        fake_telegram, flush_at_once, django_capture_on_commit_callbacks, language, side, other_side):
    user = linked_user(language=language)
    linked_user(chat_id=CHAT + 1)  # another user's chat hears nothing
    publish(django_capture_on_commit_callbacks, user, "order.filled", FILL)
    [text] = fake_telegram.texts(CHAT)
    assert "005930" in text and "70,100" in text
    assert side in text and other_side not in text
    assert fake_telegram.texts(CHAT + 1) == []
    message = TelegramMessage.objects.get()
    assert (message.state, message.owner, message.coalesce_key) == (TelegramMessage.State.SENT, user, "fills")


@pytest.mark.django_db
def test_a_user_without_a_link_gets_no_telegram_message(fake_telegram, flush_at_once,
                                                        django_capture_on_commit_callbacks):
    from accounts.tests.factories import UserFactory

    publish(django_capture_on_commit_callbacks, UserFactory(), "order.filled", FILL)
    assert fake_telegram.sent == [] and not TelegramMessage.objects.exists()


@pytest.mark.django_db
def test_quiet_hours_hold_back_a_fill_while_a_pulled_kill_switch_goes_through(
        fake_telegram, flush_at_once, django_capture_on_commit_callbacks):
    user = linked_user(language="en")
    local_now = timezone.now().astimezone(routing.user_zone(user))
    NotificationSettings.objects.update_or_create(owner=user, defaults={
        "quiet_start": (local_now - dt.timedelta(hours=1)).time(), "quiet_end": (local_now + dt.timedelta(hours=1)).time()})

    publish(django_capture_on_commit_callbacks, user, "order.filled", FILL)
    assert fake_telegram.sent == []  # held
    held = TelegramMessage.objects.get()
    assert held.state == TelegramMessage.State.QUEUED
    assert dt.timedelta(minutes=55) < held.not_before - timezone.now() <= dt.timedelta(hours=1)

    publish(django_capture_on_commit_callbacks, user, "killswitch.pulled", {"reason": "daily loss over 3 %"})
    [text] = fake_telegram.texts(CHAT)
    assert "Kill switch pulled" in text and "daily loss over 3 %" in text

    # the quiet hours end: the sweep sends the held fill
    TelegramMessage.objects.filter(pk=held.pk).update(not_before=timezone.now() - dt.timedelta(seconds=1))
    assert due_sweep() == [CHAT]
    chat_flush(chat_id=CHAT)
    assert len(fake_telegram.texts(CHAT)) == 2 and "005930" in fake_telegram.texts(CHAT)[1]
