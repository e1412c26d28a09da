"""Incident tools for operators (admin actions): sign a user out everywhere (or everyone), force a
password reset, revoke API tokens and the Telegram link, pause every deployment. Staff only; each
writes an ``incident.*`` audit row with the acting admin. Sessions are the database's (Django's
``db`` / ``cached_db`` engines): each one is deleted through its engine, so a cached copy goes too.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import Actor, audit_record
from core.errors import PermissionDenied

MESSAGE_STAFF = _("Only administrators can use the incident tools.")
PAUSE_CODE = "incident"


def _staff_check(actor: Actor) -> None:
    if not (actor.kind == "system" or getattr(actor.user, "is_staff", False)):
        raise PermissionDenied(str(MESSAGE_STAFF), code="incident_staff_only")


def _session_store() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def _delete_sessions(*, user_id: int | None, keep: str = "") -> int:
    """Delete the live sessions of ``user_id`` (None: of everyone), except the key ``keep``; the edge
    cache forgets their users (it answers a recently authenticated cookie without asking Django)."""
    from core import edge

    store = _session_store()
    ended, users = 0, set()
    for session in Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep).iterator():
        owner = session.get_decoded().get("_auth_user_id")
        if user_id is not None and str(owner) != str(user_id):
            continue
        store(session_key=session.session_key).delete()
        ended += 1
        if owner is not None:
            users.add(owner)
    for owner in users:
        edge.forget_user(int(owner))
    return ended


def user_sessions_end(*, actor: Actor, user: Any, reason: str = "") -> int:
    """Sign ``user`` out of every browser; the number of sessions ended."""
    _staff_check(actor)
    with transaction.atomic():
        ended = _delete_sessions(user_id=user.pk)
        audit_record(actor=actor, action="incident.sessions_end", owner=user, target=user,
                     after={"sessions_ended": ended}, reason=reason)
    return ended


def all_sessions_end(*, actor: Actor, keep_session_key: str = "", reason: str = "") -> int:
    """Sign everyone out (the acting admin's own session ``keep_session_key`` stays); the count."""
    _staff_check(actor)
    with transaction.atomic():
        ended = _delete_sessions(user_id=None, keep=keep_session_key)
        audit_record(actor=actor, action="incident.sessions_end_all", owner=None, object_type="sessions",
                     after={"sessions_ended": ended}, reason=reason)
    return ended


def _reset_email_send(request: Any, email: str) -> None:
    from allauth.account.forms import ResetPasswordForm
    from allauth.core.context import request_context

    with request_context(request):  # allauth builds the link from the request in its context
        form = ResetPasswordForm(data={"email": email})
        if form.is_valid():
            form.save(request)


def user_password_reset_force(*, actor: Actor, user: Any, request: Any, reason: str = "") -> None:
    """The password stops working (unusable), every session ends, and the reset email goes out on
    commit (allauth's reset flow: the link leads to a new password)."""
    _staff_check(actor)
    with transaction.atomic():
        user.set_unusable_password()
        user.save(update_fields=["password"])
        ended = _delete_sessions(user_id=user.pk)
        audit_record(actor=actor, action="incident.password_reset_force", owner=user, target=user,
                     after={"password": "unusable", "sessions_ended": ended, "reset_email": True}, reason=reason)
        transaction.on_commit(lambda: _reset_email_send(request, user.email))


def user_api_tokens_revoke(*, actor: Actor, user: Any, reason: str = "") -> int:
    """Delete every API token of ``user`` (the app must sign in again); the count."""
    from accounts.models import ApiToken

    _staff_check(actor)
    with transaction.atomic():
        prefixes = list(ApiToken.objects.filter(user=user).values_list("prefix", flat=True))
        ApiToken.objects.filter(user=user).delete()
        audit_record(actor=actor, action="incident.api_tokens_revoke", owner=user, target=user,
                     before={"token_prefixes": prefixes}, after={"tokens_revoked": len(prefixes)}, reason=reason)
    return len(prefixes)


def user_telegram_unlink(*, actor: Actor, user: Any, reason: str = "") -> bool:
    """Forget the user's Telegram chat; False when none was linked."""
    from notifications.telegram_link import telegram_unlink

    _staff_check(actor)
    with transaction.atomic():
        unlinked = telegram_unlink(user=user, door="admin")
        audit_record(actor=actor, action="incident.telegram_unlink", owner=user, target=user,
                     after={"unlinked": unlinked}, reason=reason)
    return unlinked


def user_deployments_pause(*, actor: Actor, user: Any, reason: str = "") -> int:
    """Pause every running deployment of ``user`` (each audited by the deployment service); the count."""
    from trading.live.services import deployments_pause_all

    _staff_check(actor)
    with transaction.atomic():
        paused = deployments_pause_all(actor=actor, user=user, code=PAUSE_CODE,
                                       reason=reason or str(_("Paused by an operator.")))
        audit_record(actor=actor, action="incident.deployments_pause", owner=user, target=user,
                     after={"deployments_paused": paused}, reason=reason)
    return paused


__all__ = ["all_sessions_end", "user_api_tokens_revoke", "user_deployments_pause", "user_password_reset_force",
           "user_sessions_end", "user_telegram_unlink"]
