"""Linking a Telegram chat: a one-time, short-lived deep link; the bot's /start binds the chat (once);
a chat of another user is refused; unlinking from the web, the API and the bot; audited, announced."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from core import events
from core.errors import ApplicationError
from core.models import AuditEntry
from notifications import telegram_link
from notifications.models.telegram import TelegramLink, TelegramLinkToken
from notifications.tests.tgbot_support import (
    ALICE_CHAT,
    BOB_CHAT,
    _english,
    english,
    fake_telegram,
    link,
    say,
)

pytestmark = pytest.mark.django_db
FIXTURES = (_english, fake_telegram)  # pytest finds the fixtures by these names


@pytest.fixture
def published(monkeypatch):
    seen: list[events.Event] = []
    monkeypatch.setattr(events, "ROUTES", [seen.append])
    return seen


@pytest.fixture
def bot_settings(settings):
    settings.TELEGRAM_BOT_TOKEN = "123:abc"
    settings.TELEGRAM_BOT_USERNAME = "quantk_bot"
    settings.TELEGRAM_LINK_TOKEN_MINUTES = 10


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["start"][0]


def test_link_start_returns_the_deep_link_and_keeps_only_the_tokens_hash(user, bot_settings):
    deep_link = telegram_link.telegram_link_start(user=user)
    assert deep_link.url.startswith("https://t.me/quantk_bot?start=")
    token = token_of(deep_link.url)
    row = TelegramLinkToken.objects.get(owner=user)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
    assert dt.timedelta(minutes=9) < row.expires_at - timezone.now() <= dt.timedelta(minutes=10)
    assert AuditEntry.objects.filter(action="telegram.link_start", owner=user, door="web").exists()


def test_a_token_binds_the_chat_once_and_reuse_is_refused(user, other_user, bot_settings, published,
                                                          django_capture_on_commit_callbacks):
    token = token_of(telegram_link.telegram_link_start(user=user).url)
    with django_capture_on_commit_callbacks(execute=True):
        linked = telegram_link.telegram_link_bind(token=token, chat_id=ALICE_CHAT, username="alice_tg")
    assert (linked.owner, linked.chat_id, linked.username) == (user, ALICE_CHAT, "alice_tg")
    audit = AuditEntry.objects.get(action="telegram.link")
    assert audit.door == "telegram" and audit.owner == user and audit.actor == user
    assert [(e.user_id, e.name, e.payload) for e in published] == [(user.pk, "telegram.linked",
                                                                    {"username": "alice_tg"})]
    with pytest.raises(ApplicationError) as reused:
        telegram_link.telegram_link_bind(token=token, chat_id=BOB_CHAT, username="bob_tg")
    assert reused.value.code == "token_invalid"
    assert TelegramLink.objects.get().chat_id == ALICE_CHAT


def test_an_expired_token_is_refused(user, bot_settings):
    token = token_of(telegram_link.telegram_link_start(user=user).url)
    TelegramLinkToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(ApplicationError) as expired:
        telegram_link.telegram_link_bind(token=token, chat_id=ALICE_CHAT)
    assert expired.value.code == "token_expired" and not TelegramLink.objects.exists()


def test_a_new_link_makes_the_earlier_one_useless(user, bot_settings):
    first = token_of(telegram_link.telegram_link_start(user=user).url)
    second = token_of(telegram_link.telegram_link_start(user=user).url)
    with pytest.raises(ApplicationError):
        telegram_link.telegram_link_bind(token=first, chat_id=ALICE_CHAT)
    assert telegram_link.telegram_link_bind(token=second, chat_id=ALICE_CHAT).owner == user


def test_an_unknown_token_is_refused(user, bot_settings):
    with pytest.raises(ApplicationError) as unknown:
        telegram_link.telegram_link_bind(token="made-up", chat_id=ALICE_CHAT)
    assert unknown.value.code == "token_invalid"


def test_a_chat_linked_to_another_user_is_refused(user, other_user, bot_settings):
    link(user, ALICE_CHAT, "alice_tg")
    token = token_of(telegram_link.telegram_link_start(user=other_user).url)
    with pytest.raises(ApplicationError) as taken:
        telegram_link.telegram_link_bind(token=token, chat_id=ALICE_CHAT, username="bob_tg")
    assert taken.value.code == "chat_taken"
    assert TelegramLink.objects.get(chat_id=ALICE_CHAT).owner == user
    assert not TelegramLink.objects.filter(owner=other_user).exists()


def test_a_user_linked_elsewhere_moves_to_the_new_chat(user, bot_settings):
    link(user, ALICE_CHAT, "old")
    token = token_of(telegram_link.telegram_link_start(user=user).url)
    telegram_link.telegram_link_bind(token=token, chat_id=ALICE_CHAT + 50, username="new")
    assert list(TelegramLink.objects.values_list("owner", "chat_id", "username")) == [(user.pk, ALICE_CHAT + 50,
                                                                                       "new")]


def test_unlink_is_audited_with_its_door_and_announced(user, published, django_capture_on_commit_callbacks):
    link(user, ALICE_CHAT, "alice_tg")
    with django_capture_on_commit_callbacks(execute=True):
        assert telegram_link.telegram_unlink(user=user, door="web") is True
    assert not TelegramLink.objects.exists()
    assert AuditEntry.objects.get(action="telegram.unlink").door == "web"
    assert [(e.name, e.payload) for e in published] == [("telegram.unlinked", {"username": "alice_tg"})]
    assert telegram_link.telegram_unlink(user=user) is False


def test_without_a_bot_no_link_is_made_and_the_section_says_so(user, client, settings):
    settings.TELEGRAM_BOT_TOKEN = settings.TELEGRAM_BOT_USERNAME = ""
    with pytest.raises(ApplicationError):
        telegram_link.telegram_link_start(user=user)
    client.force_login(english(user))
    page = client.get(reverse("notifications:telegram"))
    assert b'data-testid="telegram-not-configured"' in page.content and b"t.me" not in page.content
    assert b"telegram-get-link" not in page.content


# -- through the bot --------------------------------------------------------------------------------
def test_start_with_the_token_links_the_chat_once(user, fake_telegram):
    english(user)
    token = token_of(telegram_link.telegram_link_start(user=user).url)
    [answer] = say(fake_telegram, ALICE_CHAT, f"/start {token}", "alice_tg")
    assert TelegramLink.objects.get(owner=user).chat_id == ALICE_CHAT
    assert answer.startswith("Linked: this chat now gets your alerts") and "/status" in answer
    [again] = say(fake_telegram, BOB_CHAT, f"/start {token}", "bob_tg")
    assert again == str(telegram_link.MESSAGE_TOKEN_INVALID)
    assert not TelegramLink.objects.filter(chat_id=BOB_CHAT).exists()


def test_stop_from_the_bot_unlinks_with_the_telegram_door(user, fake_telegram):
    link(english(user), ALICE_CHAT, "alice_tg")
    [answer] = say(fake_telegram, ALICE_CHAT, "/stop")
    assert "unlinked" in answer and not TelegramLink.objects.exists()
    assert AuditEntry.objects.get(action="telegram.unlink").door == "telegram"
    [after] = say(fake_telegram, ALICE_CHAT, "/status")
    assert after.startswith("Link your account first")


# -- pages and API ------------------------------------------------------------------------------------
def test_the_page_makes_a_link_and_shows_it_with_its_lifetime(user, client, bot_settings):
    client.force_login(english(user))
    page = client.get(reverse("notifications:telegram"))
    assert b"Not linked." in page.content
    made = client.post(reverse("notifications:telegram_link"))
    url = made.context["deep_link"].url
    assert made.status_code == 200 and f'href="{url}"'.encode() in made.content
    assert b"for 10 minutes" in made.content


def test_the_page_shows_the_link_and_unlinks(user, client, bot_settings):
    link(english(user), ALICE_CHAT, "alice_tg")
    client.force_login(user)
    page = client.get(reverse("notifications:telegram"))
    assert b"Linked as @alice_tg since" in page.content
    done = client.post(reverse("notifications:telegram_unlink"), {"next": "https://evil.example/"})
    assert done.status_code == 302 and done["Location"] == reverse("notifications:telegram")
    assert not TelegramLink.objects.exists()


def test_the_section_partial_renders_for_the_signed_in_user_alone(user, other_user, rf, bot_settings):
    from django.template.loader import render_to_string

    link(english(user), ALICE_CHAT, "alice_tg")
    request = rf.get("/")
    request.user = other_user
    html = render_to_string("notifications/telegram/_link_section.html", {"user": other_user}, request=request)
    assert "alice_tg" not in html and "Not linked." in html


def test_the_api_reads_links_and_unlinks_only_the_users_own(user, api_client, other_api_client, bot_settings):
    link(user, ALICE_CHAT, "alice_tg")
    assert api_client.get("/api/v1/telegram/").json()["username"] == "alice_tg"
    assert other_api_client.get("/api/v1/telegram/").json() == {"configured": True, "linked": False, "username": "",
                                                                 "linked_at": None}
    made = other_api_client.post("/api/v1/telegram/link/")
    assert made.status_code == 201 and made.json()["url"].startswith("https://t.me/quantk_bot?start=")
    assert other_api_client.delete("/api/v1/telegram/").json()["linked"] is False
    assert TelegramLink.objects.filter(owner=user).exists()
    assert api_client.delete("/api/v1/telegram/").json()["linked"] is False
    assert AuditEntry.objects.get(action="telegram.unlink").door == "api"


def test_the_api_says_when_telegram_is_not_configured(api_client, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    refused = api_client.post("/api/v1/telegram/link/")
    assert refused.status_code == 400
