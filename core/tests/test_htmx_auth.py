"""An htmx fragment requested after the session ended navigates the whole page to sign in."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_htmx_fragment_without_a_session_sends_the_page_to_sign_in(client):
    response = client.get(
        "/backtests/7/trades/?sort=entry_date",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/backtests/7/?tab=trades"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Fbacktests%2F7%2F%3Ftab%3Dtrades"
    assert b"password" not in response.content.lower()  # no login form to be swapped into the table


def test_a_foreign_current_url_is_not_taken_as_next(client):
    response = client.get(
        "/backtests/params/",
        headers={"HX-Request": "true", "HX-Current-URL": "evil"},
    )
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"


def test_a_plain_request_keeps_its_redirect(client):
    response = client.get("/backtests/7/trades/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/backtests/7/trades/")
