"""Updates reach the bot by the webhook (Telegram's secret header checked) and by the polling
command: both are the one door ``update_handle``; tested over real HTTP with the fake Bot API."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.urls import reverse

from notifications import telegram_link, telegram_views
from notifications.fakes.telegram_server import message_update
from notifications.models.telegram import TelegramLink
from notifications.tests.tgbot_support import (
    ALICE_CHAT,
    SECRET,
    STRANGER_CHAT,
    _english,
    deliver,
    english,
    fake_telegram,
)

FIXTURES = (_english, fake_telegram)  # pytest finds the fixtures by these names
URL = "/notifications/telegram/webhook/"


def token_for(user) -> str:
    return parse_qs(urlsplit(telegram_link.telegram_link_start(user=user).url).query)["start"][0]


def post(client, body, secret: str | None = SECRET):
    headers = {} if secret is None else {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=data, content_type="application/json", **headers)


@pytest.mark.django_db
def test_the_webhook_refuses_a_wrong_or_missing_secret(client, user, fake_telegram):
    update = message_update(ALICE_CHAT, f"/start {token_for(user)}", "alice_tg")
    assert reverse("notifications:telegram_webhook") == URL
    assert post(client, update, secret="wrong").status_code == 403
    assert post(client, update, secret=None).status_code == 403
    assert post(client, update, secret="").status_code == 403
    assert not TelegramLink.objects.exists() and fake_telegram.sent == []


@pytest.mark.django_db
def test_the_webhook_is_not_there_without_a_configured_secret(client, settings, fake_telegram):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    assert post(client, message_update(ALICE_CHAT, "/help"), secret="").status_code == 404
    assert client.get(URL).status_code == 405


@pytest.mark.django_db
def test_the_webhook_answers_400_to_a_body_that_is_not_json(client, fake_telegram):
    assert post(client, "{not json").status_code == 400


@pytest.mark.django_db
def test_the_webhook_links_with_the_secret_and_says_200_even_when_an_update_fails(client, user, fake_telegram,
                                                                                    monkeypatch, caplog):
    english(user)
    assert post(client, message_update(ALICE_CHAT, f"/start {token_for(user)}", "alice_tg")).status_code == 200
    assert TelegramLink.objects.get(owner=user).chat_id == ALICE_CHAT
    deliver()
    assert fake_telegram.texts(ALICE_CHAT)[0].startswith("Linked:")

    def broken(update):
        raise RuntimeError("boom")

    monkeypatch.setattr(telegram_views, "update_handle", broken)
    assert post(client, message_update(ALICE_CHAT, "/status")).status_code == 200  # no endless redelivery
    assert "failed" in caplog.text
    assert post(client, [1, 2]).status_code == 200  # JSON but not an update: ignored


@pytest.mark.django_db(transaction=True)
def test_set_webhook_then_telegram_posts_updates_over_http(live_server, settings, user, fake_telegram):
    settings.SITE_URL = live_server.url
    call_command("telegram_set_webhook")
    assert fake_telegram.webhook_url == live_server.url + URL and fake_telegram.webhook_secret == SECRET
    english(user)
    token = token_for(user)
    assert fake_telegram.push_update(message_update(ALICE_CHAT, f"/start {token}", "alice_tg")) == 200
    assert TelegramLink.objects.get(owner=user).username == "alice_tg"
    deliver()
    assert fake_telegram.texts(ALICE_CHAT)[0].startswith("Linked:")
    # an update with the wrong secret (someone else posting to our URL) is refused
    fake_telegram.webhook_secret = "not-the-secret"
    assert fake_telegram.push_update(message_update(STRANGER_CHAT, f"/start {token}")) == 403


@pytest.mark.django_db
def test_polling_once_handles_the_waiting_updates_and_confirms_them(user, fake_telegram, settings):
    english(user)
    fake_telegram.push_update(message_update(ALICE_CHAT, f"/start {token_for(user)}", "alice_tg"))
    fake_telegram.push_update(message_update(STRANGER_CHAT, "/status"))
    fake_telegram.webhook_url = "https://example.invalid/hook"  # getUpdates answers 409 until it is deleted
    call_command("telegram_poll", "--once")
    assert fake_telegram.webhook_url == ""
    assert TelegramLink.objects.get(owner=user).chat_id == ALICE_CHAT
    deliver()
    assert fake_telegram.texts(ALICE_CHAT)[0].startswith("Linked:")
    assert fake_telegram.texts(STRANGER_CHAT) == [telegram_link_first()]
    assert fake_telegram.pending_updates() == 0  # confirmed: Telegram would not send them again
    call_command("telegram_poll", "--once")
    deliver()
    assert len(fake_telegram.texts(ALICE_CHAT)) == 1 and len(fake_telegram.texts(STRANGER_CHAT)) == 1


def telegram_link_first() -> str:
    """The bot's answer to a stranger, in the sender's language (the fake's updates say Korean)."""
    from django.utils import translation

    with translation.override("ko"):
        return translation.gettext("Link your account first: open the notification settings on the website and "
                                   "use the Telegram link there.")


@pytest.mark.django_db
def test_polling_needs_a_configured_bot(settings):
    from django.core.management.base import CommandError

    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(CommandError):
        call_command("telegram_poll", "--once")
