"""Feedback reports: filed by users (page, dialog, API), triaged by operators (admin).

``feedback_submit`` checks and stores a report (the screenshot's type is read from its bytes, never
from its name; it is stored under a random name); ``feedback_triage`` sets severity, category,
assignee, status, notes and the answer, derives the answer deadline from the severity (the beta
plan's response times), alerts the operators at once for P0/P1 and tells the reporter when the
report is resolved. Both write an audit row; their side effects run on commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import events
from core.audit import Actor, audit_record
from notifications.models.feedback import FeedbackReport

logger = logging.getLogger(__name__)

WHAT_HAPPENED_REQUIRED = _("Tell us what happened.")
TEXT_TOO_LONG = _("Keep it under %(limit)s characters.")
SCREENSHOT_TOO_LARGE = _("The screenshot is too large: at most %(limit)s MB.")
SCREENSHOT_WRONG_TYPE = _("The screenshot must be a PNG, JPEG or WebP image.")
TOO_MANY_REPORTS = _("You have sent many reports in the last hour. Please try again later.")
ASSIGNEE_NOT_STAFF = _("Only staff can be assigned a report.")
NOT_A_CHOICE = _("Choose one of the offered values.")

TEXT_LIMIT = 5000
REPORTS_PER_HOUR = 20
REQUEST_IDS_KEPT = 20
ALERTED_SEVERITIES = ("P0", "P1")
DONE = (FeedbackReport.Status.RESOLVED, FeedbackReport.Status.CLOSED)
TRIAGE_FIELDS = ("severity", "category", "assignee_id", "status", "internal_notes", "answer")


# -- the screenshot ------------------------------------------------------------------------------------
def screenshot_kind(head: bytes) -> str | None:
    """The image type of a file from its first bytes: "png", "jpg", "webp", or None for anything else."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


def _screenshot_check(screenshot: Any) -> str:
    """The screenshot's type; raises ValidationError on the ``screenshot`` field."""
    limit = settings.FEEDBACK_SCREENSHOT_MAX_BYTES
    if screenshot.size is not None and screenshot.size > limit:
        raise ValidationError({"screenshot": [SCREENSHOT_TOO_LARGE % {"limit": _megabytes(limit)}]})
    screenshot.seek(0)
    kind = screenshot_kind(screenshot.read(16))
    screenshot.seek(0)
    if kind is None:
        raise ValidationError({"screenshot": [SCREENSHOT_WRONG_TYPE]})
    return kind


def _megabytes(limit: int) -> str:
    value = limit / (1024 * 1024)
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


# -- filing ----------------------------------------------------------------------------------------------
def _text_errors(**texts: str) -> dict[str, list]:
    errors: dict[str, list] = {}
    if not texts["what_happened"].strip():
        errors["what_happened"] = [WHAT_HAPPENED_REQUIRED]
    for name, text in texts.items():
        if len(text) > TEXT_LIMIT:
            errors.setdefault(name, []).append(TEXT_TOO_LONG % {"limit": f"{TEXT_LIMIT:,}"})
    return errors


def _request_ids_clean(request_ids: Any) -> list[dict[str, Any]]:
    """At most 20 entries of plain values: what the request-id middleware keeps, nothing else."""
    if not isinstance(request_ids, list):
        return []
    kept = []
    for entry in request_ids[:REQUEST_IDS_KEPT]:
        if isinstance(entry, dict):
            kept.append({str(k)[:20]: v if isinstance(v, int | float) else str(v)[:300] for k, v in entry.items()})
    return kept


def feedback_submit(*, user: Any, what_happened: str, expected: str = "", steps: str = "", screenshot: Any = None,
                    page_url: str = "", user_agent: str = "", app_version: str = "",
                    request_ids: list[dict[str, Any]] | None = None, door: str = "web") -> FeedbackReport:
    """File a report from ``user``. ``screenshot`` is an uploaded file or None. Raises ValidationError
    with messages per field (nothing is stored then); returns the saved report."""
    what_happened, expected, steps = (what_happened or "").strip(), (expected or "").strip(), (steps or "").strip()
    errors = _text_errors(what_happened=what_happened, expected=expected, steps=steps)
    kind = None
    if screenshot is not None:
        try:
            kind = _screenshot_check(screenshot)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    since = timezone.now() - dt.timedelta(hours=1)
    if FeedbackReport.objects.filter(reporter=user, created_at__gte=since).count() >= REPORTS_PER_HOUR:
        raise ValidationError({"what_happened": [TOO_MANY_REPORTS]})
    with transaction.atomic():
        report = FeedbackReport(
            reporter=user, what_happened=what_happened, expected=expected, steps=steps,
            page_url=(page_url or "")[:500], user_agent=(user_agent or "")[:300],
            app_version=(app_version or "")[:40], request_ids=_request_ids_clean(request_ids or []))
        if kind is not None:
            report.screenshot.save(f"{uuid.uuid4().hex}.{kind}", screenshot, save=False)
        report.save()
        audit_record(actor=Actor.of_user(user, door=door), action="feedback.submitted", owner=user, target=report,
                     after={"page_url": report.page_url, "screenshot": bool(report.screenshot)})
    return report


# -- triage ----------------------------------------------------------------------------------------------
def _triage_errors(*, severity: str, category: str, status: str, assignee: Any) -> dict[str, list]:
    errors: dict[str, list] = {}
    for name, value, choices in (("severity", severity, FeedbackReport.Severity.values),
                                 ("category", category, FeedbackReport.Category.values),
                                 ("status", status, FeedbackReport.Status.values)):
        if value and value not in choices or (name == "status" and not value):
            errors[name] = [NOT_A_CHOICE]
    if assignee is not None and not assignee.is_staff:
        errors["assignee"] = [ASSIGNEE_NOT_STAFF]
    return errors


def _deadline_and_times(report: FeedbackReport, before: dict[str, Any], now: dt.datetime) -> None:
    """Derive due_at, triaged_at and resolved_at from what changed."""
    if report.severity != before["severity"]:
        report.due_at = report.created_at + FeedbackReport.RESPONSE_TIME[report.severity] if report.severity else None
    if report.severity and report.status == FeedbackReport.Status.NEW:
        report.status = FeedbackReport.Status.TRIAGED  # a report given a severity has been triaged
    if report.triaged_at is None and (report.severity or report.status != FeedbackReport.Status.NEW):
        report.triaged_at = now
    if report.status in DONE:
        if report.resolved_at is None or before["status"] not in DONE:
            report.resolved_at = now
    else:
        report.resolved_at = None


def admin_link(report: FeedbackReport) -> str:
    return settings.SITE_URL + reverse("admin:notifications_feedbackreport_change", args=[report.pk])


def summary_of(report: FeedbackReport) -> str:
    first_line = report.what_happened.strip().splitlines()[0] if report.what_happened.strip() else ""
    return first_line[:80]


def _alert_operators(report: FeedbackReport) -> None:
    from notifications import ops

    title = f"{report.severity} feedback #{report.pk}: {summary_of(report)}"
    body = "\n".join(line for line in (
        f"{report.get_severity_display()} · {report.get_category_display() or '-'}",
        f"page: {report.page_url}" if report.page_url else "",
        report.what_happened[:500]) if line)
    try:
        ops.ops_alert(key=f"feedback:{report.pk}:{report.severity}", title=title, body=body, link=admin_link(report))
    except Exception:  # noqa: BLE001 - the triage is saved; a failing channel is logged, not raised
        logger.exception("feedback #%s: operators' alert failed", report.pk)


@transaction.atomic
def feedback_triage(*, actor: Actor, report: FeedbackReport, severity: str, category: str, assignee: Any,
                    status: str, internal_notes: str, answer: str) -> FeedbackReport:
    """Triage ``report`` (the admin's change form and actions). Raises ValidationError per field.

    A new or changed severity sets the deadline (created_at + the severity's response time) and a
    report still "new" becomes "triaged"; P0/P1 alert the operators on commit; becoming resolved
    publishes ``feedback.resolved`` to the reporter on commit. Saving nothing new writes nothing."""
    errors = _triage_errors(severity=severity or "", category=category or "", status=status or "",
                            assignee=assignee)
    if errors:
        raise ValidationError(errors)
    report = FeedbackReport.objects.select_for_update().select_related("reporter").get(pk=report.pk)
    before = {name: getattr(report, name) for name in TRIAGE_FIELDS}
    report.severity, report.category, report.status = severity or "", category or "", status
    report.assignee = assignee
    report.internal_notes, report.answer = (internal_notes or "").strip(), (answer or "").strip()
    _deadline_and_times(report, before, timezone.now())
    after = {name: getattr(report, name) for name in TRIAGE_FIELDS}
    changed = {name for name in TRIAGE_FIELDS if before[name] != after[name]}
    if not changed:
        return report
    report.save()
    audit_record(actor=actor, action="feedback.triaged", owner=report.reporter, target=report,
                 before={name: before[name] for name in changed}, after={name: after[name] for name in changed})
    if "severity" in changed and report.severity in ALERTED_SEVERITIES:
        transaction.on_commit(lambda: _alert_operators(report))
    if "status" in changed and report.status == FeedbackReport.Status.RESOLVED:
        events.publish(user_id=report.reporter_id, event="feedback.resolved", payload={
            "id": report.pk, "summary": summary_of(report), "answer": report.answer,
            "link": reverse("feedback:detail", args=[report.pk])})
    return report
