"""Incident tools: sessions ended (one user, or everyone but the acting admin), a forced password
reset with its email, API tokens revoked, Telegram unlinked, deployments paused; each audited with
the admin, through the User admin's actions behind a confirmation page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.models import ApiToken
from accounts.services import api_token_create
from core.audit import Actor
from core.errors import PermissionDenied
from core.models import AuditEntry
from core.system import incident
from notifications.models import TelegramLink

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/accounts/user/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sessions_of(user) -> int:
    return sum(1 for session in Session.objects.all() if session.get_decoded().get("_auth_user_id") == str(user.pk))


def action(admin_client, name, user, **extra):
    return admin_client.post(CHANGELIST, {"action": name, "_selected_action": [user.pk], **extra})


def test_signing_a_user_out_ends_only_their_sessions_after_confirmation(admin_client, user, other_user, monkeypatch):
    from core import edge

    forgotten = []
    monkeypatch.setattr(edge, "forget_user", forgotten.append)
    alice, bob = signed_in(user), signed_in(other_user)
    signed_in(user)
    confirm = action(admin_client, "incident_sessions_end", user)
    assert confirm.status_code == 200 and b"incident-explain" in confirm.content and sessions_of(user) == 2
    forgotten.clear()
    done = action(admin_client, "incident_sessions_end", user, post="yes", reason="stolen laptop")
    assert done.status_code == 302 and sessions_of(user) == 0 and sessions_of(other_user) == 1
    assert forgotten == [user.pk]  # the edge cache asks Django again for her cookies
    assert alice.get("/dashboard/").status_code == 302 and bob.get("/dashboard/").status_code == 200
    entry = AuditEntry.objects.get(action="incident.sessions_end")
    assert (entry.owner, entry.actor.is_staff, entry.after, entry.reason) == (user, True, {"sessions_ended": 2},
                                                                               "stolen laptop")


def test_signing_everyone_out_keeps_the_admins_own_session(admin_client, user, other_user):
    signed_in(user), signed_in(other_user)
    assert admin_client.get("/admin/ops/sessions/").status_code == 200  # the confirmation
    assert admin_client.post("/admin/ops/sessions/", {"reason": "key leak"}).status_code == 302
    assert sessions_of(user) == sessions_of(other_user) == 0
    assert admin_client.get("/admin/").status_code == 200
    assert AuditEntry.objects.get(action="incident.sessions_end_all").after == {"sessions_ended": 2}


def test_a_forced_reset_disables_the_password_and_sends_the_reset_email(admin_client, user, mailoutbox,
                                                                        django_capture_on_commit_callbacks):
    signed_in(user)
    with django_capture_on_commit_callbacks(execute=True):
        action(admin_client, "incident_password_reset", user, post="yes")
    user.refresh_from_db()
    assert not user.has_usable_password() and sessions_of(user) == 0
    assert [message.to for message in mailoutbox] == [[user.email]] and "/password/reset/key/" in mailoutbox[0].body
    assert AuditEntry.objects.filter(action="incident.password_reset_force", owner=user).exists()


def test_revoking_tokens_and_unlinking_telegram(admin_client, user, other_user):
    api_token_create(user=user, name="phone")
    api_token_create(user=other_user, name="phone")
    TelegramLink.objects.create(owner=user, chat_id=4242, username="alice")
    action(admin_client, "incident_api_tokens_revoke", user, post="yes")
    action(admin_client, "incident_telegram_unlink", user, post="yes")
    assert list(ApiToken.objects.values_list("user", flat=True)) == [other_user.pk]
    assert not TelegramLink.objects.filter(owner=user).exists()
    actions = set(AuditEntry.objects.filter(owner=user).values_list("action", flat=True))
    assert {"incident.api_tokens_revoke", "incident.telegram_unlink", "telegram.unlink"} <= actions


def test_pausing_every_deployment_of_a_user(admin_client, user):
    from coupons.tests.helpers import free_limits
    from strategies.tests.factories import StrategyFactory
    from trading.live import services
    from trading.services import broker_account_open_paper

    free_limits(max_running_deployments=3)
    alice = Actor.of_user(user)
    account = broker_account_open_paper(actor=alice, owner=user, nickname="paper", cash=10_000_000)
    running = services.deployment_start(actor=alice, deployment=services.deployment_create(
        actor=alice, strategy=StrategyFactory(owner=user), account=account, name="", capital=Decimal(1_000_000)))
    action(admin_client, "incident_deployments_pause", user, post="yes", reason="runaway")
    running.refresh_from_db()
    assert (running.state, running.state_code) == ("paused", "incident")
    assert AuditEntry.objects.get(action="incident.deployments_pause").after == {"deployments_paused": 1}
    assert AuditEntry.objects.filter(action="deployment.pause", actor__is_staff=True).exists()


def test_the_tools_are_for_staff_only(user, other_user, client):
    with pytest.raises(PermissionDenied):
        incident.user_sessions_end(actor=Actor.of_user(user), user=other_user)
    client.force_login(user)
    assert client.get("/admin/ops/sessions/").status_code == 302  # the admin's login
    user.is_staff = True
    user.save()
    assert client.post("/admin/ops/sessions/", {"reason": "x"}).status_code == 403  # staff without the user right
    assert not AuditEntry.objects.filter(action="incident.sessions_end_all").exists()
