"""The incident tools as actions of the User admin, each behind a confirmation page with a reason.

``accounts.admin.UserAdmin`` mixes ``IncidentActions`` in and lists ``INCIDENT_ACTIONS``. Every action
calls a service of ``core.system.incident`` (staff only, audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from core.audit import Actor
from core.errors import ApplicationError
from core.system import incident

INCIDENT_ACTIONS = ["incident_sessions_end", "incident_password_reset", "incident_api_tokens_revoke",
                    "incident_telegram_unlink", "incident_deployments_pause"]
DONE = _("%(what)s: done for %(count)d user(s) (%(detail)s).")


def admin_actor(request: Any) -> Actor:
    return Actor.of_admin(request.user, ip=request.META.get("REMOTE_ADDR") or None)


class IncidentActions:
    """Admin actions; the first submit shows the confirmation page, its "Yes" runs the tool."""

    def _incident(self, request: Any, queryset: Any, *, name: str, title: Any, explain: Any,
                  run: Callable[[Actor, Any, str], Any]) -> TemplateResponse | None:
        if request.POST.get("post") != "yes":
            context = {**self.admin_site.each_context(request), "title": title, "explain": explain,
                       "queryset": queryset, "action": name, "opts": self.model._meta,
                       "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME}
            return TemplateResponse(request, "admin/ops/incident_confirm.html", context)
        actor, reason = admin_actor(request), request.POST.get("reason", "").strip()[:300]
        results = []
        for user in queryset:
            try:
                results.append(run(actor, user, reason))
            except ApplicationError as error:
                self.message_user(request, f"{user}: {error.message}", messages.ERROR)
        detail = ", ".join(str(result) for result in results)
        self.message_user(request, DONE % {"what": title, "count": len(results), "detail": detail}, messages.SUCCESS)
        return None

    @admin.action(description=_("Incident: sign out every session"), permissions=["change"])
    def incident_sessions_end(self, request, queryset):
        return self._incident(
            request, queryset, name="incident_sessions_end", title=_("Sign out every session"),
            explain=_("Every browser session of these users ends; they must sign in again. API tokens stay."),
            run=lambda actor, user, reason: incident.user_sessions_end(actor=actor, user=user, reason=reason))

    @admin.action(description=_("Incident: force a password reset"), permissions=["change"])
    def incident_password_reset(self, request, queryset):
        return self._incident(
            request, queryset, name="incident_password_reset", title=_("Force a password reset"),
            explain=_("The password stops working, every session ends, and a password reset email is sent."),
            run=lambda actor, user, reason: incident.user_password_reset_force(
                actor=actor, user=user, request=request, reason=reason) or user.email)

    @admin.action(description=_("Incident: revoke API tokens"), permissions=["change"])
    def incident_api_tokens_revoke(self, request, queryset):
        return self._incident(
            request, queryset, name="incident_api_tokens_revoke", title=_("Revoke API tokens"),
            explain=_("Every API token of these users is deleted: the mobile app must sign in again."),
            run=lambda actor, user, reason: incident.user_api_tokens_revoke(actor=actor, user=user, reason=reason))

    @admin.action(description=_("Incident: unlink Telegram"), permissions=["change"])
    def incident_telegram_unlink(self, request, queryset):
        return self._incident(
            request, queryset, name="incident_telegram_unlink", title=_("Unlink Telegram"),
            explain=_("The Telegram chat of these users is forgotten: no more alerts or commands until linked again."),
            run=lambda actor, user, reason: incident.user_telegram_unlink(actor=actor, user=user, reason=reason))

    @admin.action(description=_("Incident: pause every deployment"), permissions=["change"])
    def incident_deployments_pause(self, request, queryset):
        return self._incident(
            request, queryset, name="incident_deployments_pause", title=_("Pause every deployment"),
            explain=_("Every running deployment of these users is paused; orders already sent stay."),
            run=lambda actor, user, reason: incident.user_deployments_pause(actor=actor, user=user, reason=reason))
