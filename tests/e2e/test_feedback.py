"""Feedback in the browser: a report filed from a page through the button's dialog (a field error
first, then with a screenshot), triaged in the admin where its deadline shows, then resolved with
an answer that the reporter sees on /feedback/ (and in their notifications).

``SHOTS_DIR=/some/dir`` saves screenshots of the dialog, the thanks, the reporter's pages and the
admin's list and change form (desktop and a 390 px phone).
"""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from notifications.models.centre import Notification
from notifications.models.feedback import FeedbackReport
from tests.e2e.helpers import login, watch_problems
from tests.e2e.test_order_pages import DESKTOP, shoot

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def problems(page) -> list[str]:
    """Policy violations and script errors of the tab."""
    found = watch_problems(page, [], console=True)
    yield found
    assert found == [], "\n".join(found)


@pytest.fixture
def cleanup():
    """The server stores screenshots in its MEDIA_ROOT: remove what the test filed."""
    reports: list[FeedbackReport] = []
    yield reports
    for report in FeedbackReport.objects.filter(pk__in=[r.pk for r in reports]):
        if report.screenshot:
            report.screenshot.delete(save=False)


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_a_report_filed_from_a_page_triaged_in_the_admin_and_answered(page, new_page, problems, cleanup, tmp_path):
    reporter = UserFactory(email="feedback.reporter@example.com", language="en")
    page.set_viewport_size(DESKTOP)
    login(page, reporter.email)
    page.goto("/feedback/")
    expect(page.get_by_test_id("no-feedback")).to_be_visible()
    page.goto("/dashboard/")
    attachment = tmp_path / "what-i-saw.png"
    attachment.write_bytes(page.screenshot())  # a real screenshot of the page, as a user would attach

    page.get_by_test_id("feedback-button").click()
    dialog = page.get_by_test_id("feedback-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("feedback-submit").click()  # nothing written: the error is on the field
    expect(dialog.locator("[data-field=what_happened] [data-testid=field-error]")).to_have_text("Tell us what happened.")
    assert FeedbackReport.objects.count() == 0
    dialog.get_by_test_id("feedback-what-happened").fill("The dashboard's P&L card stays empty")
    dialog.get_by_test_id("feedback-expected").fill("Today's P&L")
    dialog.get_by_test_id("feedback-steps").fill("1. Sign in\n2. Open the dashboard")
    dialog.get_by_test_id("feedback-screenshot").set_input_files(str(attachment))
    shoot(page, "feedback-dialog")
    dialog.get_by_test_id("feedback-submit").click()
    expect(dialog.get_by_test_id("feedback-done")).to_be_visible()

    report = FeedbackReport.objects.get(reporter=reporter)
    cleanup.append(report)
    expect(dialog.get_by_test_id("feedback-done")).to_contain_text(f"#{report.pk}")
    assert page.url.endswith("/dashboard/")  # the page stayed where it was
    assert report.page_url == "/dashboard/" and "Chrome" in report.user_agent and report.app_version
    assert report.screenshot and report.screenshot.read() == attachment.read_bytes()
    if "notifications.request_ids.RequestIdMiddleware" in settings.MIDDLEWARE:  # the server's settings too
        assert {"/dashboard/", "/feedback/new/"} <= {entry["path"] for entry in report.request_ids}
    shoot(page, "feedback-done")
    dialog.locator("[data-feedback-close]").last.click()
    expect(dialog).to_be_hidden()
    page.get_by_test_id("feedback-button").click()  # opened again: an empty form for the next report
    expect(dialog.get_by_test_id("feedback-what-happened")).to_have_value("")
    page.keyboard.press("Escape")

    operator = UserFactory(email="feedback.ops@example.com", language="en", is_staff=True, is_superuser=True)
    admin = new_page()
    admin.set_viewport_size(DESKTOP)
    login(admin, operator.email)
    admin.goto("/admin/notifications/feedbackreport/")
    admin.get_by_role("link", name=f"#{report.pk}").click()
    admin.locator("select[name=severity]").select_option("P1")
    admin.locator("select[name=category]").select_option("data")
    admin.locator("select[name=assignee]").select_option(label=str(operator))
    admin.locator("input[name=_continue]").click()
    expect(admin.locator(".messagelist .success")).to_be_visible()
    report.refresh_from_db()
    assert (report.severity, report.status) == ("P1", "triaged")
    assert report.due_at == report.created_at + dt.timedelta(hours=4)
    expect(admin.locator(".field-due_at .readonly")).to_contain_text(str(report.due_at.astimezone().year))
    expect(admin.locator(".field-status select")).to_have_value("triaged")
    expect(admin.get_by_test_id("screenshot-link")).to_be_visible()
    shoot(admin, "feedback-admin-change")
    admin.goto("/admin/notifications/feedbackreport/")
    row = admin.locator("#result_list tbody tr").filter(has_text=f"#{report.pk}")
    expect(row).to_contain_text("P1")
    shoot(admin, "feedback-admin-list")

    admin.goto(f"/admin/notifications/feedbackreport/{report.pk}/change/")
    admin.locator("select[name=status]").select_option("resolved")
    admin.locator("textarea[name=answer]").fill("Fixed: the card now reads today's fills. Thank you!")
    admin.locator("input[name=_save]").click()
    expect(admin).to_have_url(re.compile(r"/admin/notifications/feedbackreport/(\?.*)?$"))

    page.goto("/feedback/")
    mine = page.get_by_test_id("feedback-row").filter(has_text=f"#{report.pk}")
    expect(mine.get_by_test_id("feedback-status")).to_have_attribute("data-status", "resolved")
    expect(mine.get_by_test_id("feedback-severity")).to_contain_text("P1")
    expect(mine.get_by_test_id("feedback-answer")).to_contain_text("Fixed: the card now reads today's fills.")
    shoot(page, "feedback-list")
    mine.get_by_role("link", name=f"#{report.pk}").click()
    expect(page.get_by_test_id("feedback-answer")).to_contain_text("Thank you!")
    shoot(page, "feedback-detail")
    page.goto("/feedback/new/")  # the same form as a page, for browsers without scripts
    expect(page.get_by_test_id("feedback-form")).to_be_visible()
    expect(page.get_by_test_id("feedback-button")).to_have_count(0)
    shoot(page, "feedback-new")
    told = wait_for(lambda: Notification.objects.filter(owner=reporter, event="feedback.resolved").first())
    assert told is not None and told.link == f"/feedback/{report.pk}/"
