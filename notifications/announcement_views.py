"""Pages of announcements: dismissing a banner. A small form that works without JavaScript (back to
the page it was on); with htmx the banner is removed in place."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from notifications import announcement_selectors as selectors
from notifications import announcement_services as services


@login_required
@require_POST
def announcement_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    announcement = selectors.announcement_get_visible(user=request.user, pk=pk)
    services.announcement_dismiss(user=request.user, announcement=announcement)
    if request.htmx:
        return HttpResponse("")  # hx-swap="outerHTML": the banner goes
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "dashboard"
    return redirect(target)
