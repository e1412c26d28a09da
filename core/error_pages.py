"""The site's own 404 and 500 pages in DEBUG too.

With DEBUG on (the mode ``./dev run`` serves), Django answers an unknown URL or an unhandled error
with its yellow debug page and never calls ``handler404`` / ``handler500``. A user trying the
platform locally should see the site's pages, so in DEBUG this middleware hands both to the same
handlers production uses (``core.views.not_found``: JSON under /api/, the site's page elsewhere).
``DEBUG_ERROR_PAGES=1`` brings back Django's debug pages for developers who want them; tracebacks
are logged to the console either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

logger = logging.getLogger("django.request")


class _DebugOnly:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @staticmethod
    def _active() -> bool:
        return settings.DEBUG and not settings.DEBUG_ERROR_PAGES


class SiteNotFoundMiddleware(_DebugOnly):
    """Last in MIDDLEWARE, so its page still passes through the others (CSP, frame options...)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # No view matched the path: the debug 404 was rendered before any middleware could catch
        # the Resolver404. (A view that answers 404 itself keeps its answer: resolver_match is set.)
        if response.status_code == 404 and self._active() and getattr(request, "resolver_match", None) is None:
            from core.views import not_found

            return not_found(request, Http404(request.path))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Http404) and self._active():
            from core.views import not_found

            return not_found(request, exception)
        return None


class SiteServerErrorMiddleware(_DebugOnly):
    """Early in MIDDLEWARE: exception hooks run innermost first, so this one runs after every other
    middleware had its chance (allauth turns ReauthenticationRequired into a redirect there)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.core.exceptions import PermissionDenied, SuspiciousOperation

        if not self._active() or isinstance(exception, Http404 | PermissionDenied | SuspiciousOperation):
            return None  # Django's own 400/403 handling; 404s are SiteNotFoundMiddleware's
        from core.views import server_error

        logger.exception("Internal Server Error: %s", request.path, extra={"status_code": 500, "request": request})
        return server_error(request)
