"""``{% feedback_dialog %}``: the feedback button and its dialog (templates/notifications/_feedback_button.html).

Every signed-in page carries the dialog, and rendering its form field by field cost ~3 ms a page. The
dialog is the same on every page but for the page's address and the CSRF token: it is rendered once per
process, language and app version with stand-ins for those two, which each page then fills in (escaped
as the template would have).
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.template.defaultfilters import urlencode
from django.template.loader import render_to_string
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from notifications.feedback_forms import FeedbackForm
from notifications.feedback_views import DIALOG_AUTO_ID

register = template.Library()

TEMPLATE = "notifications/feedback/_dialog.html"
# Stand-ins that urlencoding and HTML escaping leave as they are.
PAGE_IN_LINK = "feedbackpageinlink0standin"
PAGE_IN_FIELD = "feedbackpageinfield0standin"
CSRF_TOKEN = "feedbackcsrftoken0standin"


def _context(page_in_link: str, page_in_field: str, csrf_token, app_version: str) -> dict:
    return {
        "form": FeedbackForm(initial={"page_url": page_in_field, "app_version": app_version}, auto_id=DIALOG_AUTO_ID),
        "page": page_in_link, "app_version": app_version, "csrf_token": csrf_token, "hidden": False, "in_dialog": True,
    }


@lru_cache(maxsize=16)
def _rendered_with_standins(language: str | None, app_version: str) -> str:
    return render_to_string(TEMPLATE, _context(PAGE_IN_LINK, PAGE_IN_FIELD, CSRF_TOKEN, app_version))


@register.simple_tag(takes_context=True)
def feedback_dialog(context) -> SafeString | str:
    if context.get("hide_feedback_button"):
        return ""
    request = context.get("request")
    page = request.get_full_path() if request is not None else ""
    csrf_token = context.get("csrf_token")
    if not csrf_token or csrf_token == "NOTPROVIDED":  # no request behind it: the plain way
        return render_to_string(TEMPLATE, _context(page, page, csrf_token, settings.APP_VERSION))
    html = _rendered_with_standins(get_language(), settings.APP_VERSION)
    return mark_safe(  # noqa: S308 - the stand-ins are replaced by escaped values
        html.replace(PAGE_IN_LINK, urlencode(page)).replace(PAGE_IN_FIELD, escape(page))
        .replace(CSRF_TOKEN, str(conditional_escape(csrf_token)))  # as {% csrf_token %}: a safe stand-in stays
    )
