"""What a user does in a real browser, against a real server (see conftest.py)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from tests.e2e.helpers import (
    ensure_totp_time_left,
    login,
    logout,
    submit_form_with,
    totp_code,
    wait_for_email,
    wait_for_next_totp_period,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

DARK_BODY_MAX_RGB_SUM = 200


def _path(page) -> str:
    return urlsplit(page.url).path


def _rgb_sum(css_color: str) -> int:
    numbers = re.findall(r"[\d.]+", css_color)
    assert len(numbers) >= 3, f"unexpected color {css_color!r}"
    return sum(int(float(n)) for n in numbers[:3])


def _expect_dark(page) -> None:
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert _rgb_sum(background) < DARK_BODY_MAX_RGB_SUM, f"body background {background} is not dark"


def _nav(page):
    return page.locator("header nav.nav")


def _expect_nav_link(page, name: str) -> None:
    """The main navigation has a link with this exact text.

    Checked in the DOM, not for visibility: on a desktop-wide window the navigation
    is hidden by a layout bug (see test_the_main_navigation_is_visible_on_a_desktop_screen).
    """
    links = _nav(page).locator("a")
    expect(links.filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))).to_have_count(1)


def test_a_visitor_signs_up_verifies_email_and_reaches_the_dashboard(page, mailbox_dir):
    email = "new.investor@example.com"
    password = "Kospi-Rally-2025!x"

    page.goto("/accounts/signup/")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(password)
    page.locator("input[name=password2]").fill(password)
    with page.expect_navigation():
        submit_form_with(page, "input[name=password2]")
    # Mandatory verification: no dashboard until the address is confirmed.
    assert _path(page) != "/dashboard/"

    _, text = wait_for_email(mailbox_dir, email)
    # The Korean text runs straight on after the link ("…/을 클릭하세요"): keep to the key's alphabet.
    match = re.search(r"https?://[^\s/]+/accounts/confirm-email/[A-Za-z0-9:_\-]+/?", text)
    assert match, f"no confirmation link in the email:\n{text}"
    confirm_path = urlsplit(match.group(0)).path
    page.goto(confirm_path)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()

    if _path(page) != "/dashboard/":  # not logged in on confirmation: sign in by hand
        login(page, email, password)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    heading = page.locator("main h1")
    expect(heading).to_be_visible()
    expect(heading).to_contain_text("new.investor")


def test_a_user_turns_on_totp_and_must_give_a_code_at_next_login(page):
    user = UserFactory(email="totp.user@example.com")
    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    page.goto("/accounts/2fa/totp/activate/")
    # allauth asks for the password again before any 2FA change, even right after login.
    if "/accounts/reauthenticate/" in page.url:
        page.locator("input[name=password]").fill(PASSWORD)
        with page.expect_navigation():
            submit_form_with(page, "input[name=password]")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    secret = page.locator("input#authenticator_secret").get_attribute("value")
    assert secret, "the activation page shows no secret"
    ensure_totp_time_left()
    page.locator("input[name=code]").fill(totp_code(secret))
    with page.expect_navigation():
        submit_form_with(page, "input[name=code]")
    assert "/accounts/2fa/totp/activate/" not in page.url, page.locator("main").inner_text()

    # Recovery codes are offered right after activation (or listed on their page).
    if "/accounts/2fa/recovery-codes/" not in page.url:
        page.goto("/accounts/2fa/recovery-codes/")
    codes = page.locator("#recovery_codes")
    expect(codes).to_be_visible()
    assert len(codes.input_value().split()) >= 5, "expected a list of recovery codes"

    logout(page)
    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))

    # A wrong code is refused with an error.
    valid_now = totp_code(secret)
    wrong = f"{(int(valid_now) + 1) % 1_000_000:06d}"
    page.locator("input[name=code]").fill(wrong)
    with page.expect_navigation():
        submit_form_with(page, "input[name=code]")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    expect(page.locator("main")).to_contain_text(re.compile(r"incorrect|올바르지", re.IGNORECASE))
    expect(page.locator("main ul.errorlist, main .errorlist, main .field-error").first).to_be_visible()

    # The activation code cannot be reused in the same period: wait for a fresh one.
    wait_for_next_totp_period()
    page.locator("input[name=code]").fill(totp_code(secret))
    with page.expect_navigation():
        submit_form_with(page, "input[name=code]")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.locator("main h1")).to_be_visible()


def test_dark_theme_and_language_survive_reload_logout_and_login(page, new_page):
    user = UserFactory(email="night.owl@example.com")
    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    page.locator("[data-testid=theme-dark]").click()
    _expect_dark(page)
    page.reload()
    _expect_dark(page)

    page.locator("[data-testid=lang-en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _expect_nav_link(page, "Dashboard")
    page.locator("[data-testid=lang-ko]").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    _expect_nav_link(page, "대시보드")
    page.locator("[data-testid=lang-en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _expect_nav_link(page, "Dashboard")

    # Signed out, the cookies keep the look.
    logout(page)
    expect(page.locator("[data-testid=logout]")).to_have_count(0)
    _expect_dark(page)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("header")).to_contain_text("Sign in")

    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    _expect_dark(page)
    _expect_nav_link(page, "Dashboard")

    # A new browser (no cookies): the choice is on the account.
    other = new_page()
    other.goto("/")
    expect(other.locator("html")).not_to_have_attribute("data-theme", "dark")
    expect(other.locator("html")).to_have_attribute("lang", "ko")
    login(other, user.email)
    expect(other).to_have_url(re.compile(r"/dashboard/$"))
    _expect_dark(other)
    expect(other.locator("html")).to_have_attribute("lang", "en")
    _expect_nav_link(other, "Dashboard")


def test_an_anonymous_visitor_keeps_the_theme_in_a_cookie(page):
    page.goto("/")
    expect(page.locator("[data-testid=logout]")).to_have_count(0)
    page.locator("[data-testid=theme-dark]").click()
    _expect_dark(page)
    page.reload()
    _expect_dark(page)

    # No flash of the light theme: the served HTML already says dark.
    response = page.request.get("/")
    assert response.status == 200
    html_tag = re.search(r"<html\b[^>]*>", response.text())
    assert html_tag, "no <html> tag in the page"
    assert 'data-theme="dark"' in html_tag.group(0), html_tag.group(0)


def test_a_pushed_event_arrives_live_on_the_dashboard(page):
    user = UserFactory(email="live.events@example.com")
    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.locator("#live-status[data-state=open]")).to_be_attached()

    # Nothing reloads: the event comes over the websocket.
    page.evaluate("window.__sameDocument = true")
    page.locator("[data-testid=send-test-event]").click()
    expect(page.locator('#live-events li[data-event="notification.test"]')).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"


def test_settings_page_saves_timezone_and_shows_field_errors(page):
    user = UserFactory(email="tokyo.trader@example.com")
    login(page, user.email)
    page.goto("/settings/")
    select = page.locator("select[name=timezone]")
    expect(select).to_have_value("Asia/Seoul")

    # A value the server does not know is refused next to the field, nothing saved.
    select.evaluate(
        """(el) => { const o = document.createElement('option'); o.value = 'Mars/Olympus_Mons';
                     o.textContent = 'Mars/Olympus_Mons'; el.append(o); el.value = o.value; }"""
    )
    with page.expect_navigation():
        page.locator("[data-testid=save-preferences]").click()
    error = page.locator(".field.has-error:has(select[name=timezone]) .field-error")
    expect(error).to_be_visible()
    expect(page.locator("footer")).to_contain_text("Asia/Seoul")

    page.locator("select[name=timezone]").select_option("Asia/Tokyo")
    with page.expect_navigation():
        page.locator("[data-testid=save-preferences]").click()
    expect(page.locator(".field-error")).to_have_count(0)
    page.reload()
    expect(page.locator("select[name=timezone]")).to_have_value("Asia/Tokyo")
    expect(page.locator("footer")).to_contain_text("Asia/Tokyo")


def test_the_main_navigation_is_visible_on_a_desktop_screen(page):
    user = UserFactory(email="desktop.user@example.com")
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, user.email)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(_nav(page).locator("a[href='/dashboard/']")).to_be_visible(timeout=3_000)
    # On a phone the navigation folds behind the menu button.
    page.set_viewport_size({"width": 400, "height": 800})
    expect(_nav(page).locator("a[href='/dashboard/']")).to_be_hidden()
    page.locator(".menu-toggle").click()
    expect(_nav(page).locator("a[href='/dashboard/']")).to_be_visible()
