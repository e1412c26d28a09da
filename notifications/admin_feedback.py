"""Feedback reports in the operators' console: the triage desk.

The list shows severity, category, status, assignee, when a report came in and when its answer is
due, with reports past their deadline flagged (and a filter for them). The change form edits only
the triage fields, and saving goes through ``feedback_triage`` (deadline from the severity, the
operators' alert for P0/P1, the reporter told when resolved, an audit row), as do the bulk actions.
The screenshot is served to staff only, by a view of this admin (MEDIA is never public).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core.audit import Actor
from notifications.feedback_services import CONTENT_TYPES, DONE, feedback_triage, screenshot_kind
from notifications.models.feedback import FeedbackReport

TRIAGE_FIELDS = ["severity", "category", "assignee", "status", "internal_notes", "answer"]
REPORT_FIELDS = ["reporter", "created_at", "what_happened", "expected", "steps", "screenshot_link", "page_url",
                 "user_agent", "app_version", "request_id_list"]
TIMES = ["due_at", "overdue_flag", "triaged_at", "resolved_at"]


def is_overdue(report: FeedbackReport, now=None) -> bool:
    """Past its answer deadline and neither resolved nor closed."""
    return bool(report.due_at and report.due_at < (now or timezone.now()) and report.status not in DONE)


class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Past the deadline")), ("no", _("Within the deadline or done"))]

    def queryset(self, request, queryset):
        late = Q(due_at__lt=timezone.now()) & ~Q(status__in=DONE)
        if self.value() == "yes":
            return queryset.filter(late)
        if self.value() == "no":
            return queryset.exclude(late)
        return queryset


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request, door="admin")


def _triage(request: HttpRequest, report: FeedbackReport, **changes: Any) -> FeedbackReport:
    values = {"severity": report.severity, "category": report.category, "assignee": report.assignee,
              "status": report.status, "internal_notes": report.internal_notes, "answer": report.answer}
    values.update(changes)
    return feedback_triage(actor=_actor(request), report=report, **values)


@admin.register(FeedbackReport)
class FeedbackReportAdmin(admin.ModelAdmin):
    # the triage columns first: the list is read at a glance (and stays readable on a narrow screen)
    list_display = ["number", "severity_code", "status", "overdue_flag", "due_at", "summary", "category", "assignee",
                    "reporter", "created_at"]
    list_display_links = ["number", "summary"]
    list_filter = [OverdueFilter, "severity", "status", "category", "assignee"]
    list_select_related = ["reporter", "assignee"]
    search_fields = ["what_happened", "reporter__email", "=id"]
    date_hierarchy = "created_at"
    actions = ["mark_triaged", "mark_resolved"]
    readonly_fields = [*REPORT_FIELDS, *TIMES]
    fieldsets = [
        (gettext_lazy("Triage"), {"fields": [*TRIAGE_FIELDS[:4], *TIMES, "internal_notes", "answer"]}),
        (gettext_lazy("The report"), {"fields": REPORT_FIELDS}),
    ]

    class Media:
        css = {"all": ["css/notif-feedback.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reports come from users (the button, the API)

    # -- columns -------------------------------------------------------------------------------------
    @admin.display(description=gettext_lazy("number"), ordering="id")
    def number(self, report: FeedbackReport) -> str:
        return f"#{report.pk}"

    @admin.display(description=gettext_lazy("severity"), ordering="severity")
    def severity_code(self, report: FeedbackReport) -> str:
        return report.severity or "—"

    @admin.display(description=gettext_lazy("report"))
    def summary(self, report: FeedbackReport) -> str:
        text = report.what_happened.strip()
        return text if len(text) <= 60 else text[:59] + "…"

    @admin.display(description=gettext_lazy("overdue"), ordering="due_at")
    def overdue_flag(self, report: FeedbackReport) -> str:
        if is_overdue(report):
            return format_html('<span class="feedback-overdue" data-testid="overdue">{}</span>', _("Overdue"))
        return format_html('<span class="feedback-due-ok">{}</span>', "—")

    @admin.display(description=gettext_lazy("screenshot"))
    def screenshot_link(self, report: FeedbackReport) -> str:
        if not report.screenshot:
            return "—"
        url = reverse("admin:notifications_feedbackreport_screenshot", args=[report.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener" data-testid="screenshot-link">{}</a><br>'
                           '<img src="{}" alt="" class="feedback-shot">', url, _("Open the screenshot"), url)

    @admin.display(description=gettext_lazy("recent request ids"))
    def request_id_list(self, report: FeedbackReport) -> str:
        entries = [entry for entry in report.request_ids or [] if isinstance(entry, dict)]
        if not entries:
            return "—"
        rows = ((entry.get("id", ""), entry.get("method", ""), entry.get("path", ""), entry.get("status", ""),
                 _when(entry.get("at"))) for entry in entries)
        return format_html('<ol class="feedback-request-ids">{}</ol>',
                           format_html_join("", "<li><code>{}</code> {} {} {} {}</li>", rows))

    # -- saving through the service -------------------------------------------------------------------
    def save_model(self, request: HttpRequest, obj: FeedbackReport, form, change: bool) -> None:
        if not change:
            raise PermissionDenied
        data = form.cleaned_data
        saved = feedback_triage(actor=_actor(request), report=obj, severity=data["severity"],
                                category=data["category"], assignee=data["assignee"], status=data["status"],
                                internal_notes=data["internal_notes"], answer=data["answer"])
        for name in ("status", "due_at", "triaged_at", "resolved_at"):
            setattr(obj, name, getattr(saved, name))

    def _bulk(self, request: HttpRequest, queryset: QuerySet, status: str) -> None:
        done, refused = 0, []
        for report in queryset.select_related("assignee"):
            try:
                _triage(request, report, status=status)
                done += 1
            except ValidationError as error:
                refused.append(f"#{report.pk}: {'; '.join(error.messages)}")
        if done:
            self.message_user(request, ngettext("%(count)d report updated.", "%(count)d reports updated.", done)
                              % {"count": done}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=gettext_lazy("Mark the selected reports triaged"))
    def mark_triaged(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._bulk(request, queryset, FeedbackReport.Status.TRIAGED)

    @admin.action(description=gettext_lazy("Mark the selected reports resolved (the reporters are told)"))
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._bulk(request, queryset, FeedbackReport.Status.RESOLVED)

    # -- the screenshot, for staff only ---------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view(self.screenshot_view)
        return [path("<int:pk>/screenshot/", view, name="notifications_feedbackreport_screenshot"),
                *super().get_urls()]

    def screenshot_view(self, request: HttpRequest, pk: int) -> FileResponse:
        report = FeedbackReport.objects.filter(pk=pk).first()
        if report is None or not report.screenshot:
            raise Http404
        if not self.has_view_permission(request, report):
            raise PermissionDenied
        handle = report.screenshot.open("rb")
        kind = screenshot_kind(handle.read(16))
        handle.seek(0)
        if kind is None:  # never hand the browser anything but the image types we accepted
            handle.close()
            raise Http404
        response = FileResponse(handle, content_type=CONTENT_TYPES[kind])
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = f'inline; filename="feedback-{report.pk}.{kind}"'
        response["Cache-Control"] = "private, no-store"
        return response


def _when(at: Any) -> str:
    try:
        moment = dt.datetime.fromtimestamp(float(at), tz=timezone.get_current_timezone())
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S")
