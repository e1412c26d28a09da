"""The reporter's pages: file a report (/feedback/new/, also the target of the dialog on every page),
their reports (/feedback/) and one report (/feedback/<id>/). Thin doors onto the feedback service
and the owner-filtered selectors."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from notifications import feedback_selectors
from notifications.feedback_forms import FeedbackForm
from notifications.feedback_services import feedback_submit
from notifications.request_ids import recent_request_ids

REPORT_FILED = gettext_lazy("Thank you. Your report #%(number)s has been received.")
DIALOG_AUTO_ID = "feedback_%s"  # the dialog's fields, apart from the page form's on /feedback/new/


def _submit(request: HttpRequest, form: FeedbackForm):
    """The report filed from a valid form, or None with the service's refusals on the form's fields."""
    data = form.cleaned_data
    try:
        return feedback_submit(
            user=request.user, what_happened=data["what_happened"], expected=data["expected"], steps=data["steps"],
            screenshot=data["screenshot"], page_url=data["page_url"],
            user_agent=data["user_agent"] or request.headers.get("User-Agent", ""),
            app_version=data["app_version"] or settings.APP_VERSION,
            request_ids=recent_request_ids(request.user), door="web")
    except ValidationError as error:
        form.add_error(None, error)
        return None


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def feedback_new(request: HttpRequest) -> HttpResponse:
    """The form as a page (works without scripts), or, for the dialog (htmx), its fragment back:
    the form with its errors or the thanks with the report's number."""
    in_dialog = bool(getattr(request, "htmx", False))
    # The dialog's answer gets fields with ids of its own: htmx "settles" elements whose ids it swaps in
    # by copying their style attribute, which the Content-Security-Policy blocks.
    auto_id = f"feedback_{secrets.token_hex(3)}_%s" if in_dialog else "id_%s"
    if request.method == "POST":
        form = FeedbackForm(request.POST, request.FILES, auto_id=auto_id)
        report = _submit(request, form) if form.is_valid() else None
        if in_dialog:
            template = "notifications/feedback/_done.html" if report else "notifications/feedback/_form.html"
            return render(request, template, {"form": form, "report": report, "in_dialog": True})
        if report is not None:
            messages.success(request, REPORT_FILED % {"number": report.pk})
            return redirect("feedback:detail", pk=report.pk)
    else:
        page = request.GET.get("page", "")[:500]
        form = FeedbackForm(initial={"page_url": page, "app_version": settings.APP_VERSION}, auto_id=auto_id)
    context = {"page_title": _("Send feedback"), "form": form, "in_dialog": False, "hide_feedback_button": True}
    return render(request, "notifications/feedback/new.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "HEAD"])
def feedback_list(request: HttpRequest) -> HttpResponse:
    reports = feedback_selectors.feedback_list(user=request.user)
    return render(request, "notifications/feedback/list.html",
                  {"page_title": _("My feedback"), "reports": reports})


@login_required
@require_http_methods(["GET", "HEAD"])
def feedback_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = feedback_selectors.feedback_get(user=request.user, pk=pk)
    return render(request, "notifications/feedback/detail.html",
                  {"page_title": _("Feedback #%(number)s") % {"number": report.pk}, "report": report})
