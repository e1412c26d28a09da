"""The sign-in and 2FA pages, read in both languages as a user sees them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from tests.e2e.helpers import ensure_totp_time_left, submit_form_with, totp_code

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

SECRET = "JBSWY3DPEHPK3PXP"
TEXT = {
    "ko": {"code": "인증 코드", "remember": "로그인 상태 유지", "recovery": "복구 코드 10개 중 10개를 사용할 수 있습니다."},
    "en": {"code": "Code", "remember": "Remember Me", "recovery": "There are 10 out of 10 recovery codes available."},
}


def _user_with_totp(email: str):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    user = UserFactory(email=email)
    TOTP.activate(user, SECRET)
    RecoveryCodes.activate(user)
    return user


def _choose_language(page, language: str) -> None:
    page.goto("/accounts/login/")
    page.locator(f"[data-testid=lang-{language}]").click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def _on_one_line(label, checkbox) -> bool:
    """The checkbox sits inside the label's single line (not on a line of its own under it)."""
    box, check = label.bounding_box(), checkbox.bounding_box()
    middle = check["y"] + check["height"] / 2
    return box["y"] <= middle <= box["y"] + box["height"] and box["height"] < 2.5 * max(check["height"], 16)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_two_factor_pages_read_right(page, language):
    text = TEXT[language]
    user = _user_with_totp(f"two.factor.{language}@example.com")
    _choose_language(page, language)

    # Sign-in: "remember me" beside its checkbox, not above it.
    checkbox = page.locator("main input[name=remember]")
    label = page.locator("main label", has=page.locator("input[name=remember]"))
    expect(label).to_contain_text(text["remember"])
    assert _on_one_line(label, checkbox), "the label is not beside its checkbox"

    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        submit_form_with(page, "input[name=password]")

    # The 2FA step: the code field is an authenticator code, never a stock code ("종목코드").
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    main = page.locator("main")
    expect(main).not_to_contain_text("종목코드")
    expect(page.get_by_label(text["code"], exact=True)).to_have_attribute("name", "code")
    # No empty card (allauth's hidden "log out" form), and the two buttons stand apart.
    for card in main.locator(".card, form").all():
        if card.is_visible():
            assert card.inner_text().strip(), "an empty card is shown"
    buttons = main.locator("form.card button")
    expect(buttons).to_have_count(2)
    first, second = buttons.nth(0).bounding_box(), buttons.nth(1).bounding_box()
    assert second["x"] - (first["x"] + first["width"]) >= 8, "the two buttons run together"

    ensure_totp_time_left()
    page.get_by_label(text["code"], exact=True).fill(totp_code(SECRET))
    with page.expect_navigation():
        submit_form_with(page, "input[name=code]")
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    page.locator(f"[data-testid=lang-{language}]").click()  # the account's own choice applies once signed in
    expect(page.locator("html")).to_have_attribute("lang", language)

    # The recovery codes count codes, not accounts; the way back sits above the footer.
    page.goto("/accounts/2fa/")
    expect(main).to_contain_text(text["recovery"])
    expect(main).not_to_contain_text("계정 중")
    back = page.locator("main [data-testid=back-to-settings]")
    expect(back).to_be_visible()
    assert back.bounding_box()["y"] < page.locator("footer").bounding_box()["y"], "the back link is under the footer"
