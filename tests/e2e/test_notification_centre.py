"""The notification centre in the browser: the bell's count rises live when an event is published for
the signed-in user (here: their kill switch pulled from another tab), and preferences saved on the page
are honoured (in-app turned off for a kind: its event leaves no notification).

``SHOTS_DIR=/some/dir`` also saves screenshots of the centre and the preferences (desktop and 390 px).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from notifications.models import Notification, NotificationPreference
from tests.e2e.test_order_pages import DESKTOP, shoot, two_tabs
from trading.paper.tests.conftest import open_paper_account

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def problems() -> list[str]:
    found: list[str] = []
    yield found
    assert found == []


def pull_kill_switch(page, account, reason: str) -> None:
    page.goto("/trading/kill-switches/")
    card = page.get_by_test_id(f"switch-{account.pk}")
    card.get_by_test_id("switch-reason").fill(reason)
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_test_id("switch-pull").click()
    expect(page.get_by_test_id(f"switch-{account.pk}")).to_have_attribute("data-on", "1")


def test_the_bells_count_rises_live_and_the_centre_lists_it(new_page, problems):
    user = UserFactory(email="centre.bell@example.com")
    account = open_paper_account(user, nickname="연습 계좌")
    watcher, actor = two_tabs(new_page, user, problems)
    watcher.goto("/dashboard/")
    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "open")
    watcher.evaluate("() => { window.stayedOnPage = true; }")  # a reload would forget it
    expect(watcher.get_by_test_id("bell-count")).to_be_hidden()

    pull_kill_switch(actor, account, "변동성이 너무 큼")

    expect(watcher.get_by_test_id("bell-count")).to_have_text("1")  # pushed, no reload
    expect(watcher.get_by_test_id("bell-count")).to_be_visible()
    expect(watcher.get_by_test_id("dash-notification")).to_have_count(1)
    assert watcher.evaluate("() => window.stayedOnPage") is True
    assert Notification.objects.get(owner=user).kind == "killswitch"
    shoot(watcher, "centre-dashboard")

    watcher.get_by_test_id("bell").click()
    expect(watcher).to_have_url(re.compile(r"/notifications/$"))
    item = watcher.get_by_test_id("notification")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-read", "false")
    expect(item).to_contain_text("변동성이 너무 큼")
    shoot(watcher, "centre-list")
    item.get_by_test_id("mark-read").click()
    expect(watcher.get_by_test_id("notification")).to_have_attribute("data-read", "true")
    expect(watcher.get_by_test_id("bell-count")).to_be_hidden()


def test_preferences_saved_on_the_page_are_honoured(new_page, problems):
    user = UserFactory(email="centre.prefs@example.com")
    account = open_paper_account(user, nickname="연습 계좌")
    watcher, actor = two_tabs(new_page, user, problems)

    actor.goto("/notifications/preferences/")
    box = actor.get_by_test_id("pref-killswitch-in_app")
    expect(box).to_be_checked()  # the default for a critical kind
    box.uncheck()
    actor.locator("input[name=quiet_start]").fill("22:00")
    actor.locator("input[name=quiet_end]").fill("07:00")
    shoot(actor, "centre-preferences")
    actor.get_by_test_id("save-notification-preferences").click()
    expect(actor.get_by_test_id("pref-killswitch-in_app")).not_to_be_checked()
    row = NotificationPreference.objects.get(owner=user, kind="killswitch")
    assert (row.in_app, row.telegram, row.email) == (False, True, True)

    watcher.goto("/dashboard/")
    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "open")
    pull_kill_switch(actor, account, "쉬는 중")
    # the other channels ran (the routing finished on commit, before the redirect); no in-app row
    assert not Notification.objects.filter(owner=user).exists()
    watcher.wait_for_timeout(500)  # time for a push that must not come
    expect(watcher.get_by_test_id("bell-count")).to_be_hidden()
    actor.goto("/notifications/")
    expect(actor.get_by_test_id("centre-empty")).to_be_visible()

    # turned back on, the same event is kept again
    actor.goto("/notifications/preferences/")
    actor.get_by_test_id("pref-killswitch-in_app").check()
    actor.get_by_test_id("save-notification-preferences").click()
    expect(actor.get_by_test_id("pref-killswitch-in_app")).to_be_checked()
    actor.goto("/trading/kill-switches/")
    actor.get_by_test_id(f"switch-{account.pk}").get_by_test_id("switch-release").click()
    expect(actor.get_by_test_id(f"switch-{account.pk}")).to_have_attribute("data-on", "0")
    expect(watcher.get_by_test_id("bell-count")).to_have_text("1")
    actor.set_viewport_size(DESKTOP)
