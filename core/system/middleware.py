"""Maintenance mode makes the site read-only for users: an unsafe method (POST, PUT, PATCH, DELETE)
from anyone but staff gets a 503 with a clear page or JSON error. Signing in and out stays possible
(operators must get to the admin), the admin stays usable, the header's theme and language switch
works, and Telegram's webhook keeps being answered (its updates would otherwise pile up; orders
are stopped by the global kill switch anyway).
Safe methods never read the settings here."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from core.system.selectors import request_scope, system_settings_for

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
MESSAGE_READ_ONLY = _("The platform is under maintenance: you can look around, but changes are paused for now. "
                      "Please try again later.")
# the header's theme and language switch stays too: reading the notice in one's language matters most now
EXEMPT_URL_NAMES = ("account_login", "account_logout", "mfa_authenticate", "api:token",
                    "notifications:telegram_webhook", "preferences_switch",
                    "metrics:alerts")  # Alertmanager: operators need the alerts most during maintenance
RETRY_AFTER_SECONDS = 300


@cache
def exempt_paths() -> tuple[tuple[str, ...], str]:
    """(exact paths of sign-in/out and webhooks, the admin's prefix)."""
    paths = []
    for name in EXEMPT_URL_NAMES:
        try:
            paths.append(reverse(name))
        except NoReverseMatch:
            continue
    return tuple(paths), reverse("admin:index")


def is_exempt(path: str) -> bool:
    paths, admin_prefix = exempt_paths()
    return path in paths or path.startswith(admin_prefix)


def wants_json(request: HttpRequest) -> bool:
    return (request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")
            or request.content_type == "application/json")


class MaintenanceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_scope():  # one read of the settings for the whole request
            if request.method not in SAFE_METHODS and not is_exempt(request.path):
                user = getattr(request, "user", None)
                if not getattr(user, "is_staff", False) and system_settings_for(request).maintenance_mode:
                    return self.refuse(request)
            return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest) -> HttpResponse:
        if wants_json(request):
            response: HttpResponse = JsonResponse({"detail": str(MESSAGE_READ_ONLY), "code": "maintenance"},
                                                  status=503)
        else:
            response = render(request, "core/maintenance_refused.html",
                              {"page_title": _("Under maintenance"), "refusal": MESSAGE_READ_ONLY}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
