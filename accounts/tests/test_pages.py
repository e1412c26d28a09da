"""Preferences, settings page, admin 2FA and login rate limits, as a browser client sees them."""

from urllib.parse import unquote

from allauth.account.adapter import get_adapter
from allauth.mfa.totp.internal.auth import TOTP

from accounts import services
from accounts.tests.factories import PASSWORD, UserFactory


def html_tag(response) -> str:
    text = response.content.decode()
    start = text.index("<html")
    return text[start : text.index(">", start) + 1]


def test_korean_is_the_default_language_even_for_an_english_browser(client, db):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert 'lang="ko"' in html_tag(response)
    assert "로그인" in response.content.decode()


def test_a_visitor_theme_is_served_in_the_first_byte(client, db):
    response = client.post("/preferences/", {"theme": "dark", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["theme"].value == "dark"
    assert 'data-theme="dark"' in html_tag(client.get("/"))


def test_a_visitor_switches_to_english(client, db):
    client.post("/preferences/", {"language": "en", "next": "/"})
    response = client.get("/")
    assert 'lang="en"' in html_tag(response)
    assert "Sign in" in response.content.decode()


def test_bad_values_and_foreign_redirects_are_ignored(client, db):
    response = client.post("/preferences/", {"theme": "neon", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert "theme" not in response.cookies


def test_a_user_choice_is_saved_on_the_account_and_survives_logout(client, user):
    client.force_login(user)
    client.post("/preferences/", {"theme": "dark", "next": "/dashboard/"})
    client.post("/preferences/", {"language": "en", "next": "/dashboard/"})
    user.refresh_from_db()
    assert (user.theme, user.language) == ("dark", "en")
    client.post("/accounts/logout/")
    assert html_tag(client.get("/")) == '<html lang="en" data-theme="dark">'


def test_logging_in_applies_the_saved_choice_over_the_visitor_cookie(client, user):
    services.user_profile_update(user=user, theme="dark", language="en")
    client.cookies["theme"] = "light"
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["theme"].value == "dark"
    assert html_tag(client.get("/dashboard/")) == '<html lang="en" data-theme="dark">'


def test_a_new_account_adopts_the_visitor_choice(client, db):
    client.cookies["theme"] = "dark"
    client.cookies["lang"] = "en"
    client.post(
        "/accounts/signup/", {"email": "new@example.com", "password1": "a-Long-pass-2026", "password2": "a-Long-pass-2026"}
    )
    from accounts.models import User

    created = User.objects.get(email="new@example.com")
    assert (created.theme, created.language) == ("dark", "en")


def test_the_settings_page_saves_the_time_zone(client, user):
    client.force_login(user)
    response = client.post("/settings/", {"theme": "light", "language": "ko", "timezone": "Asia/Tokyo"}, follow=True)
    user.refresh_from_db()
    assert user.timezone == "Asia/Tokyo"
    assert "Asia/Tokyo" in response.content.decode()  # the footer shows the zone in use
    assert "설정을 저장했습니다." in response.content.decode()


def test_korean_pages_show_red_up_until_the_visitor_chooses(client, db):
    assert html_tag(client.get("/")) == '<html lang="ko" data-theme="system" class="updown-kr">'
    client.post("/preferences/", {"language": "en", "next": "/"})
    assert html_tag(client.get("/")) == '<html lang="en" data-theme="system">'
    response = client.post("/settings/", {"price_colors": "kr"})
    assert response.cookies["updown"].value == "kr"
    assert html_tag(client.get("/")) == '<html lang="en" data-theme="system" class="updown-kr">'


def test_the_price_colours_are_saved_on_the_account_and_shown_in_settings(client, user):
    client.force_login(user)
    page = client.get("/settings/")
    assert page.context["form"]["price_colors"].value() == "auto"
    assert 'data-testid="price-colors"' in page.content.decode() and "빨간색 상승" in page.content.decode()
    client.post("/settings/", {"price_colors": "intl"})
    user.refresh_from_db()
    assert user.price_colors == "intl"
    assert 'class="updown-kr"' not in html_tag(client.get("/settings/"))  # Korean, but green up as chosen
    client.cookies["updown"] = "kr"  # a visitor's old cookie does not override the account
    assert 'class="updown-kr"' not in html_tag(client.get("/dashboard/"))


def test_the_settings_page_shows_a_field_error_and_saves_nothing(client, user):
    client.force_login(user)
    response = client.post("/settings/", {"timezone": "Mars/Olympus"})
    assert response.status_code == 200
    assert response.context["form"].errors["timezone"]
    user.refresh_from_db()
    assert user.timezone == "Asia/Seoul"


def test_another_users_token_cannot_be_revoked_from_the_page(client, user, other_user):
    token, _ = services.api_token_create(user=other_user, name="bob's phone")
    client.force_login(user)
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 404
    assert other_user.api_tokens.count() == 1


def test_the_settings_page_lists_only_my_tokens(client, user, other_user):
    services.api_token_create(user=user, name="alice's phone")
    services.api_token_create(user=other_user, name="bob's phone")
    client.force_login(user)
    page = client.get("/settings/").content.decode()
    assert "alice&#x27;s phone" in page
    assert "bob&#x27;s phone" not in page


def test_pages_of_every_section_render_with_an_empty_state(client, user):
    client.force_login(user)
    for path in ["/dashboard/", "/strategies/", "/backtests/", "/trading/", "/notifications/"]:
        response = client.get(path)
        assert response.status_code == 200, path
    assert 'data-testid="empty-state"' in client.get("/strategies/").content.decode()


def test_sections_need_a_login(client, db):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_attempts_are_rate_limited(client, user, settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip"}
    statuses = [
        client.post("/accounts/login/", {"login": user.email, "password": "wrong"}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 200]  # wrong password each time: the form again
    # While the limit holds, even the right password does not get in, and the form says why.
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 200
    too_many = str(get_adapter().error_messages["too_many_login_attempts"])
    assert too_many in response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_staff_without_2fa_are_sent_to_set_it_up_when_required(client, settings, db):
    settings.ADMIN_REQUIRE_2FA = True
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.get("/admin/", follow=True)
    # allauth asks for the password again before a security change, then activation.
    assert "/accounts/2fa/totp/activate/" in unquote(response.redirect_chain[-1][0])


def test_staff_with_2fa_use_the_admin(client, settings, db):
    settings.ADMIN_REQUIRE_2FA = True
    staff = UserFactory(is_staff=True, is_superuser=True)
    TOTP.activate(staff, "JBSWY3DPEHPK3PXP")
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200


def test_the_admin_login_goes_through_allauth(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    login_page = client.get(response["Location"])
    assert login_page.status_code == 302 or login_page.status_code == 200
    assert "/accounts/login/" in (login_page.get("Location") or login_page.request["PATH_INFO"])


def test_a_forgotten_password_is_reset_by_email(client, user, mailoutbox):
    client.post("/accounts/password/reset/", {"email": user.email})
    assert len(mailoutbox) == 1
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/password/reset/key/" in line).strip()
    form_page = client.get(link, follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": "brand-New-pass-2026", "password2": "brand-New-pass-2026"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-New-pass-2026")


def test_a_logged_in_user_changes_the_password(client, user):
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": "another-Pass-2026", "password2": "another-Pass-2026"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-Pass-2026")
