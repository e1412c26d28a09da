"""An htmx request whose session has ended sends the whole page to sign in, not a fragment.

A view that needs a signed-in user answers an anonymous request with a redirect to the login page.
htmx follows that redirect inside its XMLHttpRequest and would swap the login page into a table
cell or a search box. For htmx requests that redirect becomes ``HX-Redirect`` (a full navigation),
with ``next`` naming the page the user was on (``HX-Current-URL``), not the fragment's URL.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect


class HtmxLoginRedirectMiddleware:
    """After django_htmx's HtmxMiddleware (it sets ``request.htmx``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code not in (301, 302, 303, 307, 308):
            return response
        login = resolve_url(settings.LOGIN_URL)
        target = urlsplit(response.get("Location", ""))
        if target.path != login:
            return response
        current = urlsplit(request.htmx.current_url or "")
        # Only a path on this site goes into next (the header is the client's say).
        page = current.path + (f"?{current.query}" if current.query else "") if current.path.startswith("/") else "/"
        return HttpResponseClientRedirect(f"{login}?{urlencode({'next': page})}")
