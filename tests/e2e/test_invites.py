"""친구 초대 in a real browser: one user copies their link, a new user signs up with it and verifies
their email, and both get the invite reward plan."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts import invites
from accounts.models import Invitation, InvitationStatus
from accounts.tests.factories import UserFactory
from coupons.models import Plan
from coupons.selectors import current_plan
from coupons.tests.helpers import plans_seeded
from tests.e2e.conftest import TIMEOUT_MS
from tests.e2e.helpers import login, submit_form_with, wait_for_email

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

SIGNUP_FORM = "accounts.forms.SignupForm"


def _signup_form_configured() -> bool:
    from django.conf import settings

    return getattr(settings, "ACCOUNT_FORMS", {}).get("signup") == SIGNUP_FORM


@pytest.mark.skipif(not _signup_form_configured(),
                    reason=f'config/settings.py lacks ACCOUNT_FORMS = {{"signup": "{SIGNUP_FORM}"}} (the invite field)')
def test_an_invite_link_copied_by_one_user_rewards_both_after_the_new_user_verifies(
        browser, new_page, live_server_url, mailbox_dir):
    plans_seeded()
    reward = Plan.objects.get(invite_reward_days__gt=0)
    inviter = UserFactory(email="inviter@example.com")
    # Both browsers run on this machine: the inviter's code is made here, not from a page visit,
    # or the friend's sign-up would come from the inviter's own address and be flagged for review.
    code = invites.invite_code_get_or_create(user=inviter).code

    # The inviter reaches the server by another name than SITE_URL (as behind a proxy): the link
    # still names SITE_URL, never the host the page was asked on.
    other_host = live_server_url.replace("127.0.0.1", "localhost")
    context = browser.new_context(base_url=other_host, locale="ko-KR", timezone_id="Asia/Seoul")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=other_host)
        page = context.new_page()
        login(page, inviter.email)
        page.goto("/accounts/invites/")
        link = page.locator("[data-testid=invite-link]").input_value()
        assert link == f"{live_server_url}/accounts/signup/?invite={code}"
        expect(page.locator("[data-testid=invite-qr]")).to_be_visible()
        copy = page.locator("[data-testid=copy-invite-link]")
        copy.click()
        expect(page.locator("[data-copy-status]")).to_have_text(copy.get_attribute("data-copied"))
        assert page.evaluate("navigator.clipboard.readText()") == link
    finally:
        context.close()

    friend = new_page()
    friend.goto(link)
    expect(friend.locator("input[name=invite]")).to_have_value(code)
    friend.locator("input[name=email]").fill("friend@example.org")
    friend.locator("input[name=password1]").fill("Kospi-Rally-2025!x")
    friend.locator("input[name=password2]").fill("Kospi-Rally-2025!x")
    with friend.expect_navigation():
        submit_form_with(friend, "input[name=password2]")
    assert Invitation.objects.get().status == InvitationStatus.JOINED

    _, text = wait_for_email(mailbox_dir, "friend@example.org")
    match = re.search(r"https?://[^\s/]+/accounts/confirm-email/[A-Za-z0-9:_\-]+/?", text)
    assert match, f"no confirmation link in the email:\n{text}"
    friend.goto(urlsplit(match.group(0)).path)
    with friend.expect_navigation():
        friend.locator("main form button[type=submit]").first.click()

    invitation = Invitation.objects.select_related("invitee").get()
    assert invitation.status == InvitationStatus.REWARDED
    assert current_plan(user=inviter) == reward and current_plan(user=invitation.invitee) == reward
    friend.goto("/plans/me/")  # the friend sees the plan at once
    expect(friend.locator("[data-testid=current-subscription] h2")).to_have_text(reward.name)
