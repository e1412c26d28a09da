"""Feedback reports from users, triaged by operators by severity (P0-P3) with answer deadlines."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class FeedbackReport(models.Model):
    class Severity(models.TextChoices):
        P0 = "P0", _("P0: system down (1 hour)")
        P1 = "P1", _("P1: major feature broken (4 hours)")
        P2 = "P2", _("P2: partly broken (24 hours)")
        P3 = "P3", _("P3: minor (3 days)")

    # the beta plan's response times
    RESPONSE_TIME = {
        "P0": dt.timedelta(hours=1), "P1": dt.timedelta(hours=4),
        "P2": dt.timedelta(hours=24), "P3": dt.timedelta(days=3),
    }

    class Category(models.TextChoices):
        FEATURE = "feature", _("Feature")
        UX = "ux", _("UI/UX")
        PERFORMANCE = "performance", _("Performance")
        SECURITY = "security", _("Security")
        DATA = "data", _("Data")
        API = "api", _("API")
        NETWORK = "network", _("Network")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        TRIAGED = "triaged", _("Triaged")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_reports")
    what_happened = models.TextField(_("what happened"))
    expected = models.TextField(_("what you expected"), blank=True)
    steps = models.TextField(_("steps to reproduce"), blank=True)
    screenshot = models.FileField(_("screenshot"), upload_to="feedback/%Y/%m/", blank=True)
    page_url = models.CharField(_("page"), max_length=500, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    app_version = models.CharField(_("app version"), max_length=40, blank=True)
    request_ids = models.JSONField(_("recent request ids"), default=list, blank=True)
    severity = models.CharField(_("severity"), max_length=2, choices=Severity.choices, blank=True)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices, blank=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="feedback_assigned", limit_choices_to={"is_staff": True})
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.NEW)
    internal_notes = models.TextField(_("internal notes"), blank=True)
    answer = models.TextField(_("answer to the reporter"), blank=True)
    due_at = models.DateTimeField(_("answer due"), null=True, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("feedback report")
        verbose_name_plural = _("feedback reports")

    def __str__(self) -> str:
        return f"#{self.pk} {self.what_happened[:60]}"
