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


def _incident_action(name: str, description: Any, title: Any, explain: Any,
                     run: Callable[[Any, Actor, Any, str], Any]) -> Callable[..., Any]:
    """One incident tool as an admin action named ``name``; ``run(request, actor, user, reason)``."""

    def action(self: IncidentActions, request: Any, queryset: Any) -> TemplateResponse | None:
        return self._incident(request, queryset, name=name, title=title, explain=explain,
                              run=lambda actor, user, reason: run(request, actor, user, reason))

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)


IncidentActions.incident_sessions_end = _incident_action(
    "incident_sessions_end", _("Incident: sign out every session"), _("Sign out every session"),
    _("Every browser session of these users ends; they must sign in again. API tokens stay."),
    lambda request, actor, user, reason: incident.user_sessions_end(actor=actor, user=user, reason=reason))
IncidentActions.incident_password_reset = _incident_action(
    "incident_password_reset", _("Incident: force a password reset"), _("Force a password reset"),
    _("The password stops working, every session ends, and a password reset email is sent."),
    lambda request, actor, user, reason: incident.user_password_reset_force(
        actor=actor, user=user, request=request, reason=reason) or user.email)
IncidentActions.incident_api_tokens_revoke = _incident_action(
    "incident_api_tokens_revoke", _("Incident: revoke API tokens"), _("Revoke API tokens"),
    _("Every API token of these users is deleted: the mobile app must sign in again."),
    lambda request, actor, user, reason: incident.user_api_tokens_revoke(actor=actor, user=user, reason=reason))
IncidentActions.incident_telegram_unlink = _incident_action(
    "incident_telegram_unlink", _("Incident: unlink Telegram"), _("Unlink Telegram"),
    _("The Telegram chat of these users is forgotten: no more alerts or commands until linked again."),
    lambda request, actor, user, reason: incident.user_telegram_unlink(actor=actor, user=user, reason=reason))
IncidentActions.incident_deployments_pause = _incident_action(
    "incident_deployments_pause", _("Incident: pause every deployment"), _("Pause every deployment"),
    _("Every running deployment of these users is paused; orders already sent stay."),
    lambda request, actor, user, reason: incident.user_deployments_pause(actor=actor, user=user, reason=reason))
