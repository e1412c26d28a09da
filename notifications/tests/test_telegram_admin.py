"""The outbox and links in the admin: listed, filtered by state, read-only, never the bot token."""

import pytest
from django.test import Client
from accounts.tests.factories import UserFactory
from notifications.models.telegram import TelegramLink, TelegramMessage

@pytest.mark.django_db
def test_the_outbox_and_links_are_listed_read_only_without_the_bot_token(settings):
    settings.TELEGRAM_BOT_TOKEN = "999:SECRET-TOKEN-XYZ"
    admin = UserFactory(is_staff=True, is_superuser=True)
    u = UserFactory()
    TelegramLink.objects.create(owner=u, chat_id=42, username="al")
    m = TelegramMessage.objects.create(chat_id=42, owner=u, text="hello\nworld", state="failed", last_error="Forbidden")
    c = Client(); c.force_login(admin)
    for url in ["/admin/notifications/telegrammessage/", "/admin/notifications/telegrammessage/?state__exact=failed",
                f"/admin/notifications/telegrammessage/{m.pk}/change/", "/admin/notifications/telegramlink/",
                f"/admin/notifications/telegramlink/{TelegramLink.objects.get().pk}/change/"]:
        r = c.get(url)
        assert r.status_code == 200, url
        assert b"SECRET-TOKEN" not in r.content
    assert b"hello" in c.get("/admin/notifications/telegrammessage/").content
    assert c.get("/admin/notifications/telegrammessage/add/").status_code == 403
