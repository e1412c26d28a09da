"""Feedback API: the app files a report (multipart with a screenshot, or JSON), lists and reads its own;
refusals are 400 with the message on the field; another user's report is 404."""

from __future__ import annotations

import pytest
from django.utils.translation import override

from core.audit import Actor
from notifications import feedback_services as services
from notifications.models.feedback import FeedbackReport
from notifications.tests.test_feedback import png_bytes, screenshot, stored_files
from notifications.tests.test_request_ids import request_ids_on

URL = "/api/v1/feedback/"


@pytest.fixture(autouse=True)
def _request_ids(settings):
    request_ids_on(settings)


@pytest.fixture(autouse=True)
def _english(user, other_user):
    for person in (user, other_user):
        person.language = "en"
        person.save()
    with override("en"):
        yield


def test_the_app_files_a_report_with_a_screenshot(api_client, user, settings):
    earlier = api_client.get(URL)["X-Request-ID"]
    answer = api_client.post(URL, {"what_happened": "Login loops", "expected": "the dashboard", "steps": "open app",
                                   "screenshot": screenshot("screen.png"), "page_url": "app://login",
                                   "app_version": "ios-3.1.0"},
                             format="multipart", HTTP_USER_AGENT="QuantK/3.1 (iPhone; iOS 18)")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    report = FeedbackReport.objects.get(reporter=user)
    assert body["id"] == report.pk and body["has_screenshot"] is True
    assert (body["status"], body["severity"], body["category"], body["answer"]) == ("new", None, None, "")
    assert (report.user_agent, report.app_version, report.page_url) == (
        "QuantK/3.1 (iPhone; iOS 18)", "ios-3.1.0", "app://login")
    assert [entry["id"] for entry in report.request_ids] == [earlier]
    assert [path.read_bytes() for path in stored_files(settings)] == [png_bytes()]
    assert "request_ids" not in body and "internal_notes" not in body


def test_json_without_a_screenshot_is_fine(api_client, user):
    answer = api_client.post(URL, {"what_happened": "Typo on the plans page"}, format="json")
    assert answer.status_code == 201 and answer.json()["has_screenshot"] is False


def test_what_happened_is_required(api_client):
    answer = api_client.post(URL, {"expected": "something"}, format="multipart")
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["what_happened"] == [str(services.WHAT_HAPPENED_REQUIRED)]


def test_a_screenshot_too_large_is_a_400_on_its_field(api_client, settings):
    settings.FEEDBACK_SCREENSHOT_MAX_BYTES = 1024 * 1024
    answer = api_client.post(URL, {"what_happened": "Big", "screenshot": screenshot(
        content=png_bytes(padding=1024 * 1024))}, format="multipart")
    assert answer.status_code == 400
    with override("ko"):  # the API answers in the user's language
        expected = str(services.SCREENSHOT_TOO_LARGE) % {"limit": "1"}
    assert answer.json()["error"]["fields"]["screenshot"] == [expected]
    assert not FeedbackReport.objects.exists() and stored_files(settings) == []


def test_a_file_disguised_as_png_is_a_400_on_its_field(api_client, settings):
    fake = screenshot("shot.png", b"<html><script>alert(1)</script></html>", "image/png")
    answer = api_client.post(URL, {"what_happened": "Look", "screenshot": fake}, format="multipart")
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["screenshot"] == [str(services.SCREENSHOT_WRONG_TYPE)]
    assert not FeedbackReport.objects.exists() and stored_files(settings) == []


def test_the_list_and_detail_show_only_mine_with_the_triage(api_client, other_api_client, user, other_user):
    mine = services.feedback_submit(user=user, what_happened="mine")
    theirs = services.feedback_submit(user=other_user, what_happened="theirs")
    staff = other_user.__class__.objects.create(email="staff@example.com", is_staff=True)
    services.feedback_triage(actor=Actor.of_admin(staff), report=mine, severity="P3", category="ux", assignee=None,
                             status="resolved", internal_notes="secret note", answer="Done")
    listed = api_client.get(URL).json()
    assert [row["id"] for row in listed["results"]] == [mine.pk]
    assert (listed["results"][0]["severity"], listed["results"][0]["answer"]) == ("P3", "Done")
    assert "secret note" not in str(listed)
    assert api_client.get(f"{URL}{mine.pk}/").json()["status"] == "resolved"
    assert api_client.get(f"{URL}{theirs.pk}/").status_code == 404
    assert other_api_client.get(f"{URL}{mine.pk}/").status_code == 404


def test_anonymous_callers_are_refused(anon_api_client):
    assert anon_api_client.get(URL).status_code in (401, 403)
    assert anon_api_client.post(URL, {"what_happened": "x"}, format="json").status_code in (401, 403)
    assert not FeedbackReport.objects.exists()
