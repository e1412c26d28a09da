"""Operators' pages inside the admin (/admin/ops/...): the dashboard, the global kill switch, signing
everyone out. Wrapped by ``admin.site.admin_view`` (staff only, the admin's own login)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.errors import ApplicationError, PermissionDenied
from core.system import incident
from core.system.admin_incident import admin_actor
from core.system.dashboard import ops_snapshot

SIGNED_OUT_ALL = _("%(count)d session(s) ended: everyone else must sign in again.")
SWITCH_PULLED = _("The global kill switch is pulled: no new order is accepted or sent.")
SWITCH_RELEASED = _("The global kill switch is released.")


def ops_dashboard(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": _("Operators' dashboard"), "snapshot": ops_snapshot()}
    return TemplateResponse(request, "admin/ops/dashboard.html", context)


@require_POST
def ops_kill_switch(request: HttpRequest) -> HttpResponse:
    from trading.killswitch import kill_switch_pull, kill_switch_release

    reason = request.POST.get("reason", "")
    try:
        if request.POST.get("do") == "pull":
            kill_switch_pull(actor=admin_actor(request), scope="global", reason=reason,
                             cancel_open_orders=request.POST.get("cancel_open_orders") == "on")
            messages.success(request, SWITCH_PULLED)
        else:
            kill_switch_release(actor=admin_actor(request), scope="global", reason=reason)
            messages.success(request, SWITCH_RELEASED)
    except (ApplicationError, PermissionDenied) as error:
        messages.error(request, error.message)
    return redirect("admin:ops_dashboard")


def ops_sessions_end_all(request: HttpRequest) -> HttpResponse:
    """GET: the confirmation; POST: every session but the acting admin's own ends. Needs the right
    to change users (the same as the per-user incident actions)."""
    if not request.user.has_perm("accounts.change_user"):
        raise DjangoPermissionDenied
    if request.method == "POST":
        ended = incident.all_sessions_end(actor=admin_actor(request), keep_session_key=request.session.session_key
                                          or "", reason=request.POST.get("reason", "").strip()[:300])
        messages.success(request, SIGNED_OUT_ALL % {"count": ended})
        return redirect("admin:ops_dashboard")
    context = {**admin.site.each_context(request), "title": _("Sign out every user")}
    return TemplateResponse(request, "admin/ops/sessions_end_all.html", context)


def ops_urls() -> list:
    wrap = admin.site.admin_view
    return [
        path("ops/", wrap(ops_dashboard), name="ops_dashboard"),
        path("ops/kill-switch/", wrap(ops_kill_switch), name="ops_kill_switch"),
        path("ops/sessions/", wrap(ops_sessions_end_all), name="ops_sessions_end_all"),
    ]
