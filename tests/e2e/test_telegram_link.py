"""Telegram linking in the browser: the section gets a one-time t.me link (swapped in place by htmx)
with its lifetime, the bot's /start binds the chat, the page then shows the linked username, and
unlinking from the page forgets the chat.

The browser tests' server is started once for the session from this process's environment: a bot
username and token are set here (nothing is sent to Telegram by these pages) so the section offers
the link. ``SHOTS_DIR=/some/dir`` saves screenshots of the section (desktop and phone).
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from notifications.models.telegram import TelegramLink
from notifications.telegram_link import telegram_link_bind
from tests.e2e.helpers import login, watch_problems
from tests.e2e.test_order_pages import DESKTOP, shoot

# read by the server subprocess when it starts (after collection); setdefault keeps a caller's own bot
os.environ.setdefault("TELEGRAM_BOT_USERNAME", "quantk_e2e_bot")
os.environ.setdefault("TELEGRAM_BOT_TOKEN", "123456:e2e-not-a-real-token")
os.environ.setdefault("TELEGRAM_API_URL", "http://127.0.0.1:9")  # an alert a worker might send goes nowhere

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def problems(page) -> list[str]:
    """Policy violations and script errors of the tab."""
    found = watch_problems(page, [], console=True)
    yield found
    assert found == [], "\n".join(found)


def test_link_from_the_page_bind_in_the_bot_and_unlink(page, problems):
    user = UserFactory(email="telegram.link@example.com", language="en")
    page.set_viewport_size(DESKTOP)
    login(page, user.email)
    page.goto("/notifications/telegram/")
    section = page.get_by_test_id("telegram-link-section")
    expect(section.get_by_test_id("telegram-status")).to_have_text("Not linked.")
    section.get_by_test_id("telegram-get-link").click()
    link = page.get_by_test_id("telegram-deep-link-url")
    expect(link).to_have_attribute("href", re.compile(r"^https://t\.me/quantk_e2e_bot\?start=[\w-]+$"))
    assert page.url.endswith("/notifications/telegram/")  # swapped in place, no navigation
    expect(page.get_by_test_id("telegram-deep-link")).to_contain_text("The link works once, for 10 minutes.")
    shoot(page, "telegram-link")

    token = parse_qs(urlsplit(link.get_attribute("href")).query)["start"][0]
    telegram_link_bind(token=token, chat_id=880_001, username="alice_tg")  # what the bot does on /start
    page.reload()
    expect(page.get_by_test_id("telegram-status")).to_contain_text("Linked as @alice_tg since")
    shoot(page, "telegram-linked")
    page.get_by_test_id("telegram-unlink").click()
    expect(page.get_by_test_id("telegram-status")).to_have_text("Not linked.")
    assert not TelegramLink.objects.filter(owner=user).exists()
