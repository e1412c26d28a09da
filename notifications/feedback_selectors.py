"""Reads of feedback reports for their reporter: another user's report does not exist (404)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from notifications.models.feedback import FeedbackReport


def feedback_list(*, user: Any) -> QuerySet[FeedbackReport]:
    """The user's own reports, newest first."""
    return FeedbackReport.objects.filter(reporter=user).order_by("-created_at", "-id")


def feedback_get(*, user: Any, pk: int) -> FeedbackReport:
    """One of the user's own reports; Http404 for any other (someone else's or none)."""
    return get_object_or_404(feedback_list(user=user), pk=pk)
