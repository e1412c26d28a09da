"""Request ids: every answer names its request, and a signed-in user's last 20 are kept for reports."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from notifications.request_ids import HEADER, KEEP, recent_request_ids

MIDDLEWARE = "notifications.request_ids.RequestIdMiddleware"


def request_ids_on(settings) -> None:
    """The middleware where board.md asks for it (after AuthenticationMiddleware), until the lead adds it."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        middleware = list(settings.MIDDLEWARE)
        middleware.insert(middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, MIDDLEWARE)
        settings.MIDDLEWARE = middleware


@pytest.fixture(autouse=True)
def _request_ids(settings):
    request_ids_on(settings)


@pytest.fixture
def alice(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_answer_carries_a_new_request_id(db):
    first, second = Client().get("/"), Client().get("/no-such-page/")
    assert re.fullmatch(r"[0-9a-f]{32}", first[HEADER])
    assert re.fullmatch(r"[0-9a-f]{32}", second[HEADER])
    assert first[HEADER] != second[HEADER]


def test_a_well_formed_incoming_id_is_kept_and_anything_else_replaced(db):
    assert Client().get("/", HTTP_X_REQUEST_ID="edge-7f3a9c21.b")[HEADER] == "edge-7f3a9c21.b"
    for bad in ["<script>alert(1)</script>", "short", "x" * 65, "id with spaces 123"]:
        answer = Client().get("/", HTTP_X_REQUEST_ID=bad)[HEADER]
        assert answer != bad and re.fullmatch(r"[0-9a-f]{32}", answer)


def test_the_last_20_requests_of_a_signed_in_user_are_kept_newest_first(alice, user):
    answers = [alice.get(f"/feedback/{n}/" if n % 2 else "/feedback/") for n in range(KEEP + 5)]
    kept = recent_request_ids(user)
    assert [entry["id"] for entry in kept] == [answer[HEADER] for answer in reversed(answers)][:KEEP]
    assert (kept[0]["path"], kept[0]["method"], kept[0]["status"]) == ("/feedback/", "GET", 200)
    assert (kept[1]["path"], kept[1]["status"]) == (f"/feedback/{KEEP + 3}/", 404)
    assert kept[0]["at"] >= kept[-1]["at"] > 0


def test_static_files_and_anonymous_requests_are_not_kept(alice, user):
    assert alice.get("/static/css/notif-feedback.css").status_code == 200
    Client().get("/feedback/")
    assert recent_request_ids(user) == []
    alice.get("/feedback/")
    assert [entry["path"] for entry in recent_request_ids(user)] == ["/feedback/"]


def test_each_user_has_their_own_ids(alice, user, other_user):
    bob = Client()
    bob.force_login(other_user)
    mine = alice.get("/feedback/")[HEADER]
    theirs = bob.get("/feedback/")[HEADER]
    assert [entry["id"] for entry in recent_request_ids(user)] == [mine]
    assert [entry["id"] for entry in recent_request_ids(other_user)] == [theirs]


def test_api_requests_count_for_the_token_user(api_client, user):
    answer = api_client.get("/api/v1/feedback/")
    assert answer.status_code == 200
    assert [entry["id"] for entry in recent_request_ids(user)] == [answer[HEADER]]


def test_an_anonymous_user_has_none():
    from django.contrib.auth.models import AnonymousUser

    assert recent_request_ids(AnonymousUser()) == []
