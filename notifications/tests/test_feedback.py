"""Feedback: a report filed from the page (and the dialog), its screenshot checked by its bytes, the
triage in the admin (deadline per severity, the overdue flag, the operators' alert for P0/P1, the
reporter told when resolved), and a reporter seeing only their own reports."""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django.utils.translation import override

from accounts.tests.factories import UserFactory
from core import events
from core.audit import Actor
from core.models import AuditEntry
from notifications import feedback_services as services
from notifications.admin_feedback import is_overdue
from notifications.models.feedback import FeedbackReport
from notifications.tests.test_request_ids import request_ids_on



def png_bytes(padding: int = 0) -> bytes:
    """A real 1x1 PNG (with ``padding`` bytes of a text chunk to make it bigger)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    text = chunk(b"tEXt", b"pad\x00" + b"x" * padding) if padding else b""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + text
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def screenshot(name: str = "shot.png", content: bytes | None = None, content_type: str = "image/png"):
    return SimpleUploadedFile(name, png_bytes() if content is None else content, content_type=content_type)


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "feedback"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def file_report(user, **changes) -> FeedbackReport:
    values = {"what_happened": "The orders page shows no fills", "expected": "my fills", "steps": "",
              "screenshot": None, "page_url": "/trading/orders/", "user_agent": "pytest", "app_version": "1.2.3",
              "request_ids": []}
    values.update(changes)
    return services.feedback_submit(user=user, **values)


@pytest.fixture(autouse=True)
def _request_ids(settings):
    request_ids_on(settings)


@pytest.fixture(autouse=True)
def _english(settings, user, other_user):
    settings.ADMIN_REQUIRE_2FA = False
    for person in (user, other_user):
        person.language = "en"
        person.save()
    with override("en"):
        yield


@pytest.fixture
def alice(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bob(other_user) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def operator(db):
    return UserFactory(email="ops@example.com", is_staff=True, is_superuser=True, language="en")


@pytest.fixture
def ops(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def published(monkeypatch) -> list[events.Event]:
    seen: list[events.Event] = []
    monkeypatch.setattr(events, "ROUTES", [seen.append])
    return seen


def triage(report, actor_user, **changes):
    values = {"severity": report.severity, "category": report.category, "assignee": report.assignee,
              "status": report.status, "internal_notes": report.internal_notes, "answer": report.answer}
    values.update(changes)
    return services.feedback_triage(actor=Actor.of_admin(actor_user), report=report, **values)


# -- filing -------------------------------------------------------------------------------------------------
def test_a_report_filed_from_the_page_keeps_its_context_and_recent_requests(alice, user, settings):
    visited = alice.get("/feedback/")["X-Request-ID"]
    answer = alice.post("/feedback/new/", {
        "what_happened": "차트가 안 보여요", "expected": "a chart", "steps": "1. open\n2. look",
        "screenshot": screenshot("my secret name.png"), "page_url": "/backtests/7/",
        "user_agent": "Mozilla/5.0 test", "app_version": "web-9"})
    report = FeedbackReport.objects.get(reporter=user)
    assert answer.status_code == 302 and answer["Location"] == f"/feedback/{report.pk}/"
    assert (report.what_happened, report.expected, report.steps) == ("차트가 안 보여요", "a chart", "1. open\n2. look")
    assert (report.page_url, report.user_agent, report.app_version) == ("/backtests/7/", "Mozilla/5.0 test", "web-9")
    assert [entry["id"] for entry in report.request_ids] == [visited]
    name = Path(report.screenshot.name).name
    assert name.endswith(".png") and "secret" not in name and len(name) == 36
    assert [path.read_bytes() for path in stored_files(settings)] == [png_bytes()]
    assert AuditEntry.objects.filter(action="feedback.submitted", owner=user).count() == 1
    page = alice.get(answer["Location"]).content.decode()
    assert f"Your report #{report.pk} has been received." in page


def test_without_scripts_the_page_has_the_form_with_where_it_came_from(alice, settings):
    settings.APP_VERSION = "2026.12.1"
    page = alice.get("/feedback/new/?page=/trading/orders/%3Fstate%3Dopen").content.decode()
    assert 'name="page_url" value="/trading/orders/?state=open"' in page
    assert 'name="app_version" value="2026.12.1"' in page
    assert 'enctype="multipart/form-data"' in page and "hx-post" not in page


def test_the_dialog_on_every_page_carries_that_page_and_a_token_that_works(user, settings):
    settings.APP_VERSION = "2026.12.2"
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for path, in_link, in_field in [
        ("/notifications/?kind=fill&page=2", "/notifications/%3Fkind%3Dfill%26page%3D2",
         "/notifications/?kind=fill&amp;page=2"),
        ("/dashboard/", "/dashboard/", "/dashboard/"),
    ]:
        html = client.get(path).content.decode()
        dialog = html[html.index('data-testid="feedback-dialog"'):]
        assert f'href="/feedback/new/?page={in_link}"' in html
        assert f'name="page_url" value="{in_field}"' in dialog and 'name="app_version" value="2026.12.2"' in dialog
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', dialog).group(1)
        answer = client.post("/feedback/new/", {"what_happened": f"Broken on {path}", "page_url": path,
                                                "csrfmiddlewaretoken": token}, HTTP_HX_REQUEST="true")
        assert answer.status_code == 200, answer.status_code  # a token that was not this session's: 403
    assert sorted(FeedbackReport.objects.filter(reporter=user).values_list("page_url", flat=True)) == [
        "/dashboard/", "/notifications/?kind=fill&page=2"]


def test_the_dialog_gets_back_the_thanks_with_the_report_number(alice, user, settings):
    settings.APP_VERSION = "2026.12.1"
    answer = alice.post("/feedback/new/", {"what_happened": "Slow", "page_url": "/dashboard/"},
                        HTTP_HX_REQUEST="true", HTTP_USER_AGENT="Chrome/1")
    report = FeedbackReport.objects.get(reporter=user)
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'data-testid="feedback-done"' in html and f"Your report #{report.pk} has been received." in html
    assert "<html" not in html  # a fragment for the dialog
    assert (report.user_agent, report.app_version) == ("Chrome/1", "2026.12.1")  # the server's when none is sent


def test_a_report_without_what_happened_is_refused_on_its_field(alice):
    answer = alice.post("/feedback/new/", {"what_happened": "  ", "expected": "x"}, HTTP_HX_REQUEST="true")
    html = answer.content.decode()
    assert answer.status_code == 200 and 'data-field="what_happened"' in html
    assert str(services.WHAT_HAPPENED_REQUIRED) in html and 'data-testid="feedback-form"' in html
    assert not FeedbackReport.objects.exists()


def test_a_screenshot_too_large_is_refused_and_nothing_is_kept(alice, settings):
    settings.FEEDBACK_SCREENSHOT_MAX_BYTES = 1024 * 1024
    big = screenshot(content=png_bytes(padding=1024 * 1024))
    answer = alice.post("/feedback/new/", {"what_happened": "Big", "screenshot": big})
    assert answer.status_code == 400
    assert "The screenshot is too large: at most 1 MB." in answer.content.decode()
    assert not FeedbackReport.objects.exists() and stored_files(settings) == []


@pytest.mark.parametrize("content", [
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",  # another image type
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    b"MZ\x90\x00" + b"\x00" * 60,  # a program
    b"",
], ids=["gif", "svg", "exe", "empty"])
def test_a_file_disguised_as_png_is_refused_on_its_field(alice, settings, content):
    answer = alice.post("/feedback/new/", {"what_happened": "Look", "screenshot": screenshot("shot.png", content)},
                        HTTP_HX_REQUEST="true")
    html = answer.content.decode()
    assert 'data-field="screenshot"' in html and 'class="field-error"' in html.split('data-field="screenshot"')[1]
    assert not FeedbackReport.objects.exists() and stored_files(settings) == []


@pytest.mark.parametrize("content, extension", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20, "jpg"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20, "webp"),
])
def test_jpeg_and_webp_are_accepted_by_their_bytes_whatever_their_name(user, content, extension):
    report = file_report(user, screenshot=screenshot("photo.png", content, "image/png"))
    assert report.screenshot.name.endswith(f".{extension}")


def test_the_button_and_its_dialog_are_on_every_page_without_inline_script(alice):
    html = alice.get("/feedback/").content.decode()
    assert 'data-testid="feedback-button"' in html and "<dialog" in html
    assert "js/feedback.js" in html and "css/notif-feedback.css" in html
    assert 'data-app-version="' in html and 'style="' not in html
    assert 'data-testid="feedback-button"' not in Client().get("/").content.decode()  # signed in only


def test_more_than_20_reports_an_hour_are_refused(user):
    for n in range(services.REPORTS_PER_HOUR):
        file_report(user, what_happened=f"report {n}")
    with pytest.raises(services.ValidationError) as refused:
        file_report(user, what_happened="one more")
    assert refused.value.message_dict == {"what_happened": [str(services.TOO_MANY_REPORTS)]}
    assert FeedbackReport.objects.count() == services.REPORTS_PER_HOUR


# -- triage ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("severity, hours", [("P0", 1), ("P1", 4), ("P2", 24), ("P3", 72)])
def test_triage_sets_the_deadline_per_severity(user, operator, severity, hours):
    report = file_report(user)
    report = triage(report, operator, severity=severity, category="data")
    assert report.due_at - report.created_at == dt.timedelta(hours=hours)
    assert report.status == "triaged" and report.triaged_at is not None
    entry = AuditEntry.objects.get(action="feedback.triaged")
    assert entry.owner == user and entry.after["severity"] == severity


def test_a_changed_severity_moves_the_deadline_and_a_cleared_one_removes_it(user, operator):
    report = triage(file_report(user), operator, severity="P3")
    report = triage(report, operator, severity="P1")
    assert report.due_at == report.created_at + dt.timedelta(hours=4)
    assert triage(report, operator, severity="").due_at is None


def test_saving_the_same_triage_again_writes_nothing(user, operator):
    report = triage(file_report(user), operator, severity="P2")
    triage(report, operator)
    assert AuditEntry.objects.filter(action="feedback.triaged").count() == 1


def test_only_staff_can_be_assigned_and_only_offered_values_are_taken(user, other_user, operator):
    report = file_report(user)
    with pytest.raises(services.ValidationError) as refused:
        triage(report, operator, assignee=other_user, severity="P9", status="")
    assert set(refused.value.message_dict) == {"assignee", "severity", "status"}


def test_a_report_past_its_deadline_is_overdue_until_resolved(user, operator, published):
    report = triage(file_report(user), operator, severity="P0")
    assert not is_overdue(report)
    FeedbackReport.objects.filter(pk=report.pk).update(created_at=timezone.now() - dt.timedelta(hours=5))
    report = triage(FeedbackReport.objects.get(pk=report.pk), operator, severity="P1")  # deadline from creation
    assert report.due_at < timezone.now() and is_overdue(report)
    assert not is_overdue(triage(report, operator, status="resolved"))


def test_p0_alerts_the_operators_on_commit(user, operator, settings, django_capture_on_commit_callbacks):
    settings.OPS_ALERT_EMAILS = ["staff@example.com"]
    settings.OPS_TELEGRAM_CHAT_ID = 0
    report = file_report(user, what_happened="Nothing loads at all\nsince 9:00")
    with django_capture_on_commit_callbacks(execute=True):
        triage(report, operator, severity="P0", category="network")
    [message] = mail.outbox
    assert message.to == ["staff@example.com"]
    assert f"P0 feedback #{report.pk}: Nothing loads at all" in message.subject
    assert f"/admin/notifications/feedbackreport/{report.pk}/change/" in message.body


def test_p2_and_a_repeated_p1_do_not_alert_again(user, operator, settings, django_capture_on_commit_callbacks):
    settings.OPS_ALERT_EMAILS = ["staff@example.com"]
    report = file_report(user)
    with django_capture_on_commit_callbacks(execute=True):
        report = triage(report, operator, severity="P2")
        report = triage(report, operator, severity="P1")
        report = triage(report, operator, status="in_progress")
    [message] = mail.outbox
    assert f"P1 feedback #{report.pk}" in message.subject


def test_resolving_tells_the_reporter(user, operator, published, django_capture_on_commit_callbacks):
    report = triage(file_report(user, what_happened="Fills missing"), operator, severity="P2")
    with django_capture_on_commit_callbacks(execute=True):
        report = triage(report, operator, status="resolved", answer="Fixed in 1.2.4, thanks!")
    [event] = [e for e in published if e.name == "feedback.resolved"]
    assert event.user_id == user.pk
    assert event.payload == {"id": report.pk, "summary": "Fills missing", "answer": "Fixed in 1.2.4, thanks!",
                             "link": f"/feedback/{report.pk}/"}
    assert report.resolved_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        triage(report, operator, internal_notes="deployed")  # already resolved: told once
    assert len([e for e in published if e.name == "feedback.resolved"]) == 1


# -- the admin ------------------------------------------------------------------------------------------
def change_form(report, **changes) -> dict:
    values = {"severity": report.severity, "category": report.category, "assignee": report.assignee_id or "",
              "status": report.status, "internal_notes": report.internal_notes, "answer": report.answer}
    values.update(changes)
    return values


def test_the_admin_change_form_triages_through_the_service(ops, operator, user, settings,
                                                          django_capture_on_commit_callbacks):
    settings.OPS_ALERT_EMAILS = ["staff@example.com"]
    report = file_report(user)
    url = f"/admin/notifications/feedbackreport/{report.pk}/change/"
    with django_capture_on_commit_callbacks(execute=True):
        answer = ops.post(url, change_form(report, severity="P1", category="feature", assignee=operator.pk,
                                           internal_notes="looking"))
    assert answer.status_code == 302
    report.refresh_from_db()
    assert (report.severity, report.status, report.assignee) == ("P1", "triaged", operator)
    assert report.due_at == report.created_at + dt.timedelta(hours=4)
    entry = AuditEntry.objects.get(action="feedback.triaged")
    assert entry.actor_kind == AuditEntry.ActorKind.ADMIN and entry.actor == operator
    assert len(mail.outbox) == 1  # the operators' alert went through the same service
    page = ops.get(url).content.decode()
    assert "Answer due" in page and "The orders page shows no fills" in page


def test_the_admin_list_flags_and_filters_overdue_reports(ops, operator, user):
    late = triage(file_report(user, what_happened="late one"), operator, severity="P0")
    FeedbackReport.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(minutes=5))
    triage(file_report(user, what_happened="fine one"), operator, severity="P3")
    page = ops.get("/admin/notifications/feedbackreport/").content.decode()
    assert page.count('data-testid="overdue"') == 1
    overdue = ops.get("/admin/notifications/feedbackreport/?overdue=yes").content.decode()
    assert "late one" in overdue and "fine one" not in overdue


def test_the_bulk_actions_go_through_the_service(ops, operator, user, published, django_capture_on_commit_callbacks):
    reports = [file_report(user, what_happened=f"report {n}") for n in range(2)]
    changelist = "/admin/notifications/feedbackreport/"
    ops.post(changelist, {"action": "mark_triaged", "_selected_action": [r.pk for r in reports]})
    assert set(FeedbackReport.objects.values_list("status", flat=True)) == {"triaged"}
    with django_capture_on_commit_callbacks(execute=True):
        ops.post(changelist, {"action": "mark_resolved", "_selected_action": [reports[0].pk]})
    resolved = FeedbackReport.objects.get(pk=reports[0].pk)
    assert resolved.status == "resolved" and resolved.resolved_at is not None
    assert [e.payload["id"] for e in published if e.name == "feedback.resolved"] == [reports[0].pk]
    assert AuditEntry.objects.filter(action="feedback.triaged").count() == 3


def test_the_screenshot_is_served_to_staff_only(ops, alice, user, settings):
    report = file_report(user, screenshot=screenshot())
    url = f"/admin/notifications/feedbackreport/{report.pk}/screenshot/"
    answer = ops.get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    assert answer["X-Content-Type-Options"] == "nosniff" and b"".join(answer.streaming_content) == png_bytes()
    assert alice.get(url).status_code == 302  # the reporter too: only staff reach the admin
    assert alice.get(f"/media/{report.screenshot.name}").status_code == 404
    assert url in ops.get(f"/admin/notifications/feedbackreport/{report.pk}/change/").content.decode()


# -- the reporter's pages ---------------------------------------------------------------------------------
def test_the_reporter_sees_status_severity_and_answer(alice, user, operator):
    report = file_report(user)
    page = alice.get("/feedback/").content.decode()
    assert f"#{report.pk}" in page and "not yet triaged" in page and 'data-status="new"' in page
    triage(report, operator, severity="P2", status="resolved", answer="Fixed: reload the page.",
           internal_notes="root cause: stale cache")
    page = alice.get("/feedback/").content.decode()
    assert 'data-status="resolved"' in page and "P2" in page and "Fixed: reload the page." in page
    detail = alice.get(f"/feedback/{report.pk}/").content.decode()
    assert "Fixed: reload the page." in detail and "Resolved" in detail
    assert "stale cache" not in page + detail  # internal notes stay internal


def test_bob_cannot_see_alices_report(alice, bob, user):
    report = file_report(user, what_happened="alice's private problem")
    assert bob.get(f"/feedback/{report.pk}/").status_code == 404
    assert "alice&#x27;s private problem" not in bob.get("/feedback/").content.decode()
    assert alice.get(f"/feedback/{report.pk}/").status_code == 200
