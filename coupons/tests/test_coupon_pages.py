"""쿠폰함 and the coupons API: a code redeemed or refused on its field, one's own redemptions only."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

from core.audit import Actor
from coupons.models import CouponKind, Redemption
from coupons.redeem import coupon_redeem

from .coupon_helpers import coupon, plans

pytestmark = pytest.mark.django_db
URL = "/coupons/"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def seeded(user):
    user.language = "en"  # the pages speak the user's language
    user.save(update_fields=["language"])
    return plans()


def test_the_coupon_box_needs_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]


def test_an_empty_coupon_box_asks_for_a_code(client, user, seeded):
    client.force_login(user)
    body = client.get(URL).content.decode()
    assert 'data-testid="redeem-form"' in body and "No coupon redeemed yet." in body
    assert "You are on Free" in body


def test_a_redeemed_code_shows_what_it_gave(client, user, seeded):
    coupon("ABCDEFGH", plan="pro", days=14)
    client.force_login(user)
    response = client.post(URL, {"code": "abcd-efgh"}, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == URL
    assert "Coupon ABCD-EFGH redeemed: Pro for 14 days, until " in body
    assert "Pro for 14 days" in body and "<code>ABCD-EFGH</code>" in body and "You are on Pro" in body


def test_a_refused_code_is_explained_on_its_field(client, user, seeded):
    client.force_login(user)
    response = client.post(URL, {"code": "NOPE-NOPE"})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-field="code"' in body and "has-error" in body
    assert "No coupon has this code. Check it and try again." in body
    assert not Redemption.objects.exists()


def test_an_empty_code_is_asked_for_on_its_field(client, user, seeded):
    client.force_login(user)
    response = client.post(URL, {"code": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_another_users_redemptions_are_never_listed(client, user, other_user, seeded):
    coupon("BOBSCODE", kind=CouponKind.UPGRADE, plan="premium", days=7)
    coupon_redeem(actor=Actor.of_user(other_user), user=other_user, code="BOBSCODE")
    client.force_login(user)
    body = client.get(URL).content.decode()
    assert "BOBSCODE" not in body and "No coupon redeemed yet." in body


def test_nothing_on_the_coupon_box_offers_a_discount(client, user, seeded):
    coupon("ABCDEFGH")
    client.force_login(user)
    client.post(URL, {"code": "ABCDEFGH"})
    assert "discount" not in client.get(URL).content.decode().lower()
    user.language = "ko"
    user.save(update_fields=["language"])
    assert "할인" not in client.get(URL).content.decode()


# -- API ---------------------------------------------------------------------------------------------------


def test_the_api_redeems_a_code_and_says_what_it_gave(api_client, user, seeded):
    coupon("ABCDEFGH", plan="pro", days=14)
    response = api_client.post("/api/v1/coupons/redeem/", {"code": "abcd efgh"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["code"] == "ABCD-EFGH" and body["plan"] == {"code": "pro", "name": "Pro"}
    assert body["days"] == 14 and body["kind"] == "trial_days" and body["status"] == "active"
    assert body["starts_at"] and body["ends_at"]


def test_the_api_refuses_with_the_message_on_the_code_field(api_client, user, seeded):
    coupon("ABCDEFGH", active=False)
    api_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the message's English text is asserted
    response = api_client.post("/api/v1/coupons/redeem/", {"code": "ABCDEFGH"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "inactive" and error["fields"] == {"code": ["This coupon is no longer active."]}


def test_the_api_needs_a_code(api_client, seeded):
    response = api_client.post("/api/v1/coupons/redeem/", {}, format="json")
    assert response.status_code == 400 and "code" in response.json()["error"]["fields"]


def test_the_api_lists_only_ones_own_redemptions(api_client, other_api_client, user, other_user, seeded):
    coupon("ALICECDE")
    coupon("BOBSCODE")
    api_client.post("/api/v1/coupons/redeem/", {"code": "ALICECDE"}, format="json")
    other_api_client.post("/api/v1/coupons/redeem/", {"code": "BOBSCODE"}, format="json")
    mine = api_client.get("/api/v1/coupons/").json()
    assert [row["code"] for row in mine["results"]] == ["ALICECDE"]
    assert [row["code"] for row in other_api_client.get("/api/v1/coupons/").json()["results"]] == ["BOBSCODE"]


def test_the_api_needs_a_login(anon_api_client):
    assert anon_api_client.get("/api/v1/coupons/").status_code in (401, 403)
    assert anon_api_client.post("/api/v1/coupons/redeem/", {"code": "X"}, format="json").status_code in (401, 403)
