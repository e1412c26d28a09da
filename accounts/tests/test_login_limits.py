"""One limit on failed sign-ins per account, whichever door is used: the login page, its 2FA step,
and the API token endpoint (password and code). A lock stops new sign-ins only."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import lockout
from accounts.tests.factories import PASSWORD, UserFactory
from accounts.tests.test_api import current_code, with_totp

TOKEN_URL = "/api/v1/auth/token/"


def page_login(client, email: str, password: str, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def api_login(client: APIClient, email: str, password: str, **body):
    extra = {key: body.pop(key) for key in list(body) if key.startswith("HTTP_") or key == "REMOTE_ADDR"}
    return client.post(TOKEN_URL, {"email": email, "password": password, **body}, format="json", **extra)


def page_errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


def wrong_code() -> str:
    return f"{(int(current_code()) + 1) % 10**6:06d}"


def assert_api_locked(response) -> None:
    assert response.status_code == 429, response.json()
    error = response.json()["error"]
    assert error["code"] == "account_locked"
    assert error["message"] == str(lockout.ACCOUNT_LOCKED)


def lock_on_the_page(client, user) -> None:
    for _ in range(5):
        assert page_login(client, user.email, "wrong-password").status_code == 200


def lock_on_the_api(client: APIClient, user) -> None:
    for _ in range(5):
        assert api_login(client, user.email, "wrong-password").json()["error"]["code"] == "invalid_credentials"


def test_five_wrong_passwords_on_the_page_lock_the_api_too(client, user, anon_api_client):
    lock_on_the_page(client, user)
    assert_api_locked(api_login(anon_api_client, user.email, PASSWORD))


def test_five_wrong_passwords_on_the_api_lock_the_page_too(client, user, anon_api_client):
    lock_on_the_api(anon_api_client, user)
    response = page_login(client, user.email, PASSWORD)
    assert response.status_code == 200
    assert page_errors(response) == [str(lockout.ACCOUNT_LOCKED)]
    assert "_auth_user_id" not in client.session


def test_the_count_is_per_account_whatever_the_host_header(client, user, anon_api_client):
    # allauth keyed its count by the request's host too: each allowed host gave 5 more guesses
    for host in ["localhost", "127.0.0.1", "localhost", "127.0.0.1", "testserver"]:
        page_login(client, user.email.upper(), "wrong-password", HTTP_HOST=host)
    assert page_errors(page_login(client, user.email, PASSWORD, HTTP_HOST="localhost")) == [
        str(lockout.ACCOUNT_LOCKED)
    ]


def test_wrong_codes_on_the_api_count_and_lock(user, anon_api_client):
    with_totp(user)
    for _ in range(5):
        response = api_login(anon_api_client, user.email, PASSWORD, otp_code=wrong_code())
        assert response.json()["error"]["code"] == "mfa_invalid"
    assert_api_locked(api_login(anon_api_client, user.email, PASSWORD, otp_code=current_code()))


def test_wrong_codes_on_the_page_2fa_step_lock_the_api(client, user, anon_api_client):
    with_totp(user)
    response = page_login(client, user.email, PASSWORD)
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    for _ in range(5):
        assert client.post("/accounts/2fa/authenticate/", {"code": wrong_code()}).status_code == 200
    assert_api_locked(api_login(anon_api_client, user.email, PASSWORD, otp_code=current_code()))
    # and the page's own 2FA step refuses even the right code now
    refused = client.post("/accounts/2fa/authenticate/", {"code": current_code()})
    assert str(lockout.ACCOUNT_LOCKED) in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lock_stops_new_sign_ins_only(client, user, anon_api_client):
    issued = api_login(anon_api_client, user.email, PASSWORD).json()["token"]
    client.force_login(user)
    lock_on_the_api(APIClient(), user)
    assert_api_locked(api_login(APIClient(), user.email, PASSWORD))
    # the app already signed in and the open browser session keep working (orders can be cancelled)
    signed_in = APIClient()
    signed_in.credentials(HTTP_AUTHORIZATION=f"Token {issued}")
    assert signed_in.get("/api/v1/me").status_code == 200
    assert client.get("/dashboard/").status_code == 200


def test_the_lock_lifts_after_the_cool_down(client, user, anon_api_client, settings, monkeypatch):
    settings.LOGIN_LOCK_MINUTES = 15
    lock_on_the_page(client, user)
    locked_at = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: locked_at + timedelta(minutes=14))
    assert_api_locked(api_login(anon_api_client, user.email, PASSWORD))
    monkeypatch.setattr(timezone, "now", lambda: locked_at + timedelta(minutes=15, seconds=1))
    assert api_login(anon_api_client, user.email, PASSWORD).status_code == 201


def test_a_password_reset_lifts_the_lock(client, user, anon_api_client, mailoutbox):
    lock_on_the_api(anon_api_client, user)
    assert_api_locked(api_login(anon_api_client, user.email, PASSWORD))
    client.post("/accounts/password/reset/", {"email": user.email})
    link = next(line for line in mailoutbox[-1].body.splitlines() if "/accounts/password/reset/key/" in line).strip()
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {"password1": "brand-New-pass-2026", "password2": "brand-New-pass-2026"})
    assert api_login(APIClient(), user.email, "brand-New-pass-2026").status_code == 201


def test_an_admin_lifts_the_lock(client, user, anon_api_client, db):
    lock_on_the_page(client, user)
    assert_api_locked(api_login(anon_api_client, user.email, PASSWORD))
    admin = UserFactory(is_staff=True, is_superuser=True)
    operator = Client()
    operator.force_login(admin)
    changelist = operator.get("/admin/accounts/user/")
    assert user.email in changelist.content.decode()
    response = operator.post("/admin/accounts/user/", {"action": "unlock_sign_in", "_selected_action": [user.pk]})
    assert response.status_code == 302
    assert api_login(anon_api_client, user.email, PASSWORD).status_code == 201
    assert page_login(client, user.email, PASSWORD).status_code == 302


def test_the_admin_sees_who_is_locked(client, user, other_user, db):
    lock_on_the_page(client, user)
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    locked = client.get("/admin/accounts/user/", {"locked": "yes"}).content.decode()
    assert user.email in locked
    assert other_user.email not in locked


def test_the_user_is_told_by_email(user, anon_api_client, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lock_on_the_api(anon_api_client, user)
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email]
    assert message.subject.endswith(str(lockout.LOCKED_EMAIL_SUBJECT))
    assert "/accounts/password/reset/" in message.body


def test_another_account_still_signs_in_from_the_same_address(client, user, other_user):
    for number in range(12):  # today's 10/m per address blocked everyone behind it after this
        page_login(client, f"nobody{number}@example.com", "guess")
    lock_on_the_page(client, user)
    assert page_login(client, other_user.email, PASSWORD).status_code == 302


def assert_api_address_refused(response) -> None:
    assert response.status_code == 429, response.json()
    assert response.json()["error"] == {
        "status": 429, "code": "too_many_attempts", "message": str(lockout.TOO_MANY_ATTEMPTS)
    }


def test_the_per_address_limit_stays_and_is_shared_by_the_doors(client, user, anon_api_client):
    for number in range(30):
        page_login(client, f"nobody{number}@example.com", "guess")
    assert_api_address_refused(api_login(anon_api_client, user.email, PASSWORD))


def test_rotating_forwarded_for_from_an_untrusted_peer_is_limited(anon_api_client, db):
    codes = [
        api_login(anon_api_client, f"guess{number}@example.com", "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")
        .status_code
        for number in range(30)
    ]
    assert codes.count(400) <= 10
    assert codes[-1] == 429


def test_rotating_forwarded_for_on_the_page_is_one_address(client, user, anon_api_client):
    for number in range(30):
        page_login(client, f"nobody{number}@example.com", "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{number}")
    assert_api_address_refused(api_login(anon_api_client, user.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1"))


@pytest.mark.parametrize("door", ["page", "api"])
def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(client, user, settings, door):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/10m/ip,5/15m/key"}
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    for number in range(3):
        page_login(client, f"nobody{number}@example.com", "guess", HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    if door == "page":
        refused = page_login(client, user.email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
        assert page_errors(refused) == [str(lockout.TOO_MANY_ATTEMPTS)]
        # another client behind the same proxy is another address
        assert page_login(client, user.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy).status_code == 302
    else:
        refused = api_login(APIClient(), user.email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_attempts"
        assert refused.json()["error"]["message"] == str(lockout.TOO_MANY_ATTEMPTS)
        other = api_login(APIClient(), user.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy)
        assert other.status_code == 201
