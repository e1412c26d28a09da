"""``{% feedback_dialog %}``: the feedback button and its dialog (templates/notifications/_feedback_button.html)."""

from __future__ import annotations

from django import template
from django.conf import settings

from notifications.feedback_forms import FeedbackForm
from notifications.feedback_views import DIALOG_AUTO_ID

register = template.Library()


@register.inclusion_tag("notifications/feedback/_dialog.html", takes_context=True)
def feedback_dialog(context) -> dict:
    request = context.get("request")
    page = request.get_full_path() if request is not None else ""
    return {
        "form": FeedbackForm(initial={"page_url": page, "app_version": settings.APP_VERSION}, auto_id=DIALOG_AUTO_ID),
        "page": page, "app_version": settings.APP_VERSION, "csrf_token": context.get("csrf_token"),
        "hidden": bool(context.get("hide_feedback_button")), "in_dialog": True,
    }
