"""Doors of the Telegram bot on the web: the webhook Telegram posts updates to, and the pages that
make the deep link and unlink the chat.

The webhook checks Telegram's ``X-Telegram-Bot-Api-Secret-Token`` header (constant-time) and answers
200 quickly even when handling an update failed (logged): Telegram would otherwise redeliver the
same update for hours. Only a body that is not JSON is a 400.
"""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, HttpResponseNotFound
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from notifications.telegram_link import telegram_link_start, telegram_unlink
from notifications.templatetags.telegram_tags import section_context
from notifications.telegram_updates import update_handle

logger = logging.getLogger(__name__)
SECRET_HEADER = "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN"


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    response = _webhook(request)
    # accounts' middleware would copy its default language (a TextChoices member, not a str) into
    # this header for an anonymous caller, which a strict WSGI server refuses (see board.md)
    response.headers["Content-Language"] = str(settings.LANGUAGE_CODE)
    return response


def _webhook(request: HttpRequest) -> HttpResponse:
    secret = getattr(settings, "TELEGRAM_WEBHOOK_SECRET", "")
    if not secret or not getattr(settings, "TELEGRAM_BOT_TOKEN", ""):
        return HttpResponseNotFound()  # no bot here: nothing to receive
    given = request.META.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return HttpResponseForbidden()
    try:
        update = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return HttpResponseBadRequest()
    try:
        update_handle(update)
    except Exception:  # noqa: BLE001 - logged; a 5xx would make Telegram resend this update forever
        logger.exception("telegram update %s failed", update.get("update_id") if isinstance(update, dict) else "?")
    return HttpResponse(status=200)


def _section(request: HttpRequest, deep_link=None, error: str = "") -> HttpResponse:
    context = section_context(request.user, deep_link=deep_link, error=error)
    if request.htmx:
        return render(request, "notifications/telegram/_link_body.html", context)
    return render(request, "notifications/telegram/page.html", context)


@login_required
@require_GET
def telegram_page(request: HttpRequest) -> HttpResponse:
    """The Telegram section alone (where the link and unlink buttons land without a page to go back to)."""
    return _section(request)


@login_required
@require_POST
def link_start(request: HttpRequest) -> HttpResponse:
    try:
        deep_link = telegram_link_start(user=request.user, door="web")
    except ApplicationError as refused:
        return _section(request, error=refused.message)
    return _section(request, deep_link=deep_link)


@login_required
@require_POST
def unlink(request: HttpRequest) -> HttpResponse:
    unlinked = telegram_unlink(user=request.user, door="web")
    if request.htmx:
        return _section(request)  # the swapped section says "Not linked." itself
    if unlinked:
        messages.success(request, _("Telegram is unlinked: no more alerts go to that chat."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return redirect("notifications:telegram")
    return redirect(target)
