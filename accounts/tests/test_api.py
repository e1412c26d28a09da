"""The mobile API: tokens (with 2FA), /me, errors, and ownership."""

import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiToken
from accounts.tests.factories import PASSWORD, UserFactory

SECRET = "JBSWY3DPEHPK3PXP"


def current_code(secret: str = SECRET) -> str:
    """The code of the current 30-s period, never one about to expire mid-test."""
    if time.time() % 30 > 27:
        time.sleep(30 - time.time() % 30 + 0.1)
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def with_totp(user) -> None:
    TOTP.activate(user, SECRET)
    RecoveryCodes.activate(user)


def login(client: APIClient, user, **extra):
    return client.post("/api/v1/auth/token/", {"email": user.email, "password": PASSWORD, **extra}, format="json")


def test_it_trades_email_and_password_for_a_working_token(user, anon_api_client):
    response = login(anon_api_client, user, device_name="Galaxy S25")
    assert response.status_code == 201
    key = response.json()["token"]
    anon_api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = anon_api_client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    stored = ApiToken.objects.get(user=user)
    assert stored.name == "Galaxy S25"
    assert key not in (stored.key_hash, stored.prefix)  # only a hash is kept


def test_a_wrong_password_gets_one_error_body(user, anon_api_client):
    response = anon_api_client.post("/api/v1/auth/token/", {"email": user.email, "password": "nope"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_credentials"
    assert error["message"] == str(services.INVALID_CREDENTIALS)


def test_missing_fields_are_named(anon_api_client, db):
    response = anon_api_client.post("/api/v1/auth/token/", {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"email", "password"}


def test_an_unverified_email_gets_no_token(db, anon_api_client):
    user = UserFactory(verified=False)
    response = login(anon_api_client, user)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "email_not_verified"


def test_with_2fa_on_the_code_is_required_and_checked(user, anon_api_client):
    with_totp(user)
    assert login(anon_api_client, user).json()["error"]["code"] == "mfa_required"
    wrong = login(anon_api_client, user, otp_code="000000" if current_code() != "000000" else "111111")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["fields"] == {"otp_code": [str(services.MFA_CODE_INVALID)]}
    assert login(anon_api_client, user, otp_code=current_code()).status_code == 201
    assert ApiToken.objects.filter(user=user).count() == 1


def test_a_totp_code_cannot_be_used_twice(user, anon_api_client):
    with_totp(user)
    code = current_code()
    first = login(anon_api_client, user, otp_code=code)
    assert first.status_code == 201, first.json()
    again = login(anon_api_client, user, otp_code=code)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "mfa_invalid"


def test_a_recovery_code_works_once(user, anon_api_client):
    with_totp(user)
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES).wrap()
    code = recovery.get_unused_codes()[0]
    first = login(anon_api_client, user, otp_code=code)
    assert first.status_code == 201, first.json()
    again = login(anon_api_client, user, otp_code=code)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "mfa_invalid"


def test_the_login_endpoint_is_throttled(user, anon_api_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    codes = [
        anon_api_client.post("/api/v1/auth/token/", {"email": user.email, "password": "x"}, format="json").status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    assert login(anon_api_client, user).json()["error"]["code"] == "throttled"


def test_revoking_the_token_signs_the_app_out(user, anon_api_client):
    key = login(anon_api_client, user).json()["token"]
    anon_api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert anon_api_client.delete("/api/v1/auth/token/").status_code == 204
    response = anon_api_client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_tokens_are_listed_and_revoked_by_their_owner_only(user, other_user, api_client, other_api_client):
    token, _ = services.api_token_create(user=user, name="iPhone")
    assert [t["name"] for t in api_client.get("/api/v1/auth/tokens/").json()["results"]] == ["iPhone"]
    assert other_api_client.get("/api/v1/auth/tokens/").json()["results"] == []
    assert other_api_client.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert api_client.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_me_reads_and_updates_preferences(user, api_client):
    body = api_client.get("/api/v1/me").json()
    assert body | {"id": 0, "date_joined": ""} == {
        "id": 0, "date_joined": "", "email": user.email, "display_name": "", "mfa_enabled": False,
        "theme": "system", "language": "ko", "timezone": "Asia/Seoul", "price_colors": "auto", "red_up": True,
    }
    response = api_client.patch("/api/v1/me", {"theme": "dark", "language": "en", "timezone": "Asia/Tokyo"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.theme, user.language, user.timezone) == ("dark", "en", "Asia/Tokyo")


def test_price_colours_follow_the_language_until_the_user_chooses(user, api_client):
    assert api_client.get("/api/v1/me").json()["red_up"] is True  # Korean: red up
    body = api_client.patch("/api/v1/me", {"language": "en"}, format="json").json()
    assert (body["price_colors"], body["red_up"]) == ("auto", False)  # English: green up
    body = api_client.patch("/api/v1/me", {"price_colors": "kr"}, format="json").json()
    assert (body["price_colors"], body["red_up"]) == ("kr", True)
    body = api_client.patch("/api/v1/me", {"language": "ko", "price_colors": "intl"}, format="json").json()
    assert (body["price_colors"], body["red_up"]) == ("intl", False)
    user.refresh_from_db()
    assert user.price_colors == "intl"


def test_me_refuses_an_unknown_price_colour(user, api_client):
    response = api_client.patch("/api/v1/me", {"price_colors": "purple", "red_up": False}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"price_colors"}
    user.refresh_from_db()
    assert user.price_colors == "auto"


def test_me_names_each_bad_field_and_saves_nothing(user, api_client):
    response = api_client.patch("/api/v1/me", {"theme": "neon", "timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"theme", "timezone"}
    user.refresh_from_db()
    assert (user.theme, user.timezone) == ("system", "Asia/Seoul")


def test_me_refuses_anonymous_callers(anon_api_client):
    response = anon_api_client.get("/api/v1/me")
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_lists_are_paginated(user, api_client):
    for n in range(3):
        services.api_token_create(user=user, name=f"device {n}")
    body = api_client.get("/api/v1/auth/tokens/?page_size=2").json()
    assert body["count"] == 3
    assert [t["name"] for t in body["results"]] == ["device 2", "device 1"]
    assert body["next"].endswith("page=2&page_size=2")


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_docs_are_served(client, path, db):
    response = client.get(path)
    assert response.status_code == 200
