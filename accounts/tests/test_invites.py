"""Friend invites: the link, attribution at sign-up, rewards at verification, the anti-abuse rules,
the admin's review and who sees what."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import invites
from accounts.models import Invitation, InvitationStatus, InviteCode
from accounts.tests.factories import UserFactory
from core.audit import Actor
from core.errors import ApplicationError
from core.models import AuditEntry
from coupons.models import Plan, Subscription, SubscriptionSource
from coupons.selectors import current_plan

PASSWORD = "Kospi-Rally-2025!x"
FRIEND_IP = "203.0.113.7"
FRIEND_AGENT = "Mozilla/5.0 (iPhone) friend"


@pytest.fixture(autouse=True)
def _signup_form(settings):
    settings.ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.SITE_URL = "https://quantk.example"


@pytest.fixture
def pro(db) -> Plan:
    return Plan.objects.get(invite_reward_days__gt=0)


@pytest.fixture
def code(user) -> str:
    return invites.invite_code_get_or_create(user=user).code


def sign_up(email: str, invite: str = "", *, ip: str = FRIEND_IP, agent: str = FRIEND_AGENT, client=None):
    client = client or Client(HTTP_USER_AGENT=agent, HTTP_ACCEPT_LANGUAGE="ko-KR")
    response = client.post(reverse("account_signup"), {"email": email, "password1": PASSWORD,
                                                       "password2": PASSWORD, "invite": invite}, REMOTE_ADDR=ip)
    return client, response


def verify(client: Client, email: str) -> None:
    message = next(m for m in reversed(mail.outbox) if email in m.to)
    path = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s/]+/)", message.body).group(1)
    assert client.post(path).status_code == 302


def rewards(user) -> list[Subscription]:
    return list(Subscription.objects.filter(user=user, source=SubscriptionSource.INVITE))


def reward_days(user) -> int:
    """Days of invite rewards (a second reward of the same plan extends the first)."""
    return sum((s.ends_at - s.starts_at).days for s in rewards(user))


# --- the link ----------------------------------------------------------------------------------
def test_every_user_gets_a_short_readable_code_once(user):
    first = invites.invite_code_get_or_create(user=user)
    assert invites.invite_code_get_or_create(user=user) == first
    assert len(first.code) == invites.CODE_LENGTH
    assert not set(first.code) & set("01OIL")


def test_the_link_uses_site_url_whatever_host_the_request_came_to(user, client, settings):
    settings.ALLOWED_HOSTS = ["*"]
    client.force_login(user)
    page = client.get("/accounts/invites/", HTTP_HOST="10.0.0.5:8000", HTTP_X_FORWARDED_HOST="evil.example")
    code = InviteCode.objects.get(user=user).code
    link = f"https://quantk.example/accounts/signup/?invite={code}"
    assert page.status_code == 200
    assert link in page.content.decode()
    assert "10.0.0.5" not in page.content.decode() and "evil.example" not in page.content.decode()
    api = client.get("/api/v1/invites/", HTTP_HOST="internal:8000")
    assert api.json()["link"] == link and api.json()["code"] == code


def test_the_page_shows_the_qr_code_inline_and_a_copy_button(user, client):
    client.force_login(user)
    html = client.get("/accounts/invites/").content.decode()
    assert "<svg" in html and 'data-testid="invite-qr"' in html
    assert 'data-copy-target' in html and "js/invites.js" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and ' style="' not in html


# --- sign-up --------------------------------------------------------------------------------------
def test_the_signup_page_prefills_the_code_from_the_link_and_keeps_it_in_the_session(code):
    client = Client()
    assert f'value="{code}"' in client.get(f"/accounts/signup/?invite={code.lower()}").content.decode()
    client.get("/")
    assert f'value="{code}"' in client.get("/accounts/signup/").content.decode()


def test_signing_up_with_a_code_records_who_invited_whom(user, code):
    sign_up("friend@example.org", code)
    invitation = Invitation.objects.get(invitee__email="friend@example.org")
    assert invitation.inviter == user and invitation.code == code
    assert invitation.status == InvitationStatus.JOINED
    assert invitation.signup_ip == FRIEND_IP and len(invitation.device_hash) == 64


def test_an_unknown_code_is_an_error_on_the_field(db):
    _, response = sign_up("friend@example.org", "NOPE2345")
    assert response.status_code == 200
    assert str(invites.INVITE_UNKNOWN) in response.content.decode()
    assert not Invitation.objects.exists()


def test_a_self_invite_with_an_alias_of_ones_address_is_refused(db):
    inviter = UserFactory(email="me.myself@gmail.com")
    code = invites.invite_code_get_or_create(user=inviter).code
    _, response = sign_up("MeMyself+again@googlemail.com", code)
    assert str(invites.INVITE_SELF) in response.content.decode()
    assert not Invitation.objects.exists()


# --- rewards ------------------------------------------------------------------------------------
def test_verification_rewards_both_once(user, code, pro):
    client, _ = sign_up("friend@example.org", code)
    verify(client, "friend@example.org")
    friend = Invitation.objects.get().invitee
    invitation = Invitation.objects.get()
    assert invitation.status == InvitationStatus.REWARDED and invitation.rewarded_at is not None
    assert current_plan(user=user) == pro and current_plan(user=friend) == pro
    assert [(s.plan, s.ends_at - s.starts_at) for s in rewards(user)] == [(pro, dt.timedelta(days=14))]
    assert len(rewards(friend)) == 1

    # a second confirmation signal (another address, or the same again) gives nothing more
    address = EmailAddress.objects.get(user=friend)
    invites.invitation_on_email_confirmed(user=friend, email=address.email)
    assert len(rewards(user)) == 1 and len(rewards(friend)) == 1
    entry = AuditEntry.objects.get(action="invitation.rewarded")
    assert entry.actor_kind == AuditEntry.ActorKind.SYSTEM and entry.owner == user


def test_the_invitee_from_the_inviters_own_address_is_flagged_not_rewarded(user, pro):
    inviter_client = Client(HTTP_USER_AGENT="Inviter browser")
    inviter_client.force_login(user)
    inviter_client.get("/accounts/invites/", REMOTE_ADDR="198.51.100.9")  # code created from there
    code = InviteCode.objects.get(user=user).code
    client, _ = sign_up("friend@example.org", code, ip="198.51.100.9")
    verify(client, "friend@example.org")
    invitation = Invitation.objects.get()
    assert invitation.status == InvitationStatus.FLAGGED
    assert invitation.flag_reason == str(invites.FLAG_SAME_AS_INVITER)
    assert rewards(user) == [] and rewards(invitation.invitee) == []


def test_a_second_invitee_on_the_device_of_a_rewarded_one_is_flagged(user, code, pro):
    first, _ = sign_up("friend@example.org", code, ip="203.0.113.1")
    verify(first, "friend@example.org")
    second, _ = sign_up("sockpuppet@example.org", code, ip="203.0.113.2")  # same browser, other address
    verify(second, "sockpuppet@example.org")
    flagged = Invitation.objects.get(invitee__email="sockpuppet@example.org")
    assert flagged.status == InvitationStatus.FLAGGED
    assert flagged.flag_reason == str(invites.FLAG_SAME_AS_INVITEE)
    assert reward_days(user) == pro.invite_reward_days


def test_a_second_reward_for_the_same_email_is_refused(user, code, pro):
    client, _ = sign_up("friend@example.org", code)
    verify(client, "friend@example.org")
    Invitation.objects.get().invitee.delete()  # the friend leaves and signs up again with another code
    other = UserFactory(email="carol@example.com")
    other_code = invites.invite_code_get_or_create(user=other).code
    client, _ = sign_up("friend+again@example.org", other_code, ip="192.0.2.44", agent="another phone")
    verify(client, "friend+again@example.org")
    again = Invitation.objects.get(inviter=other)
    assert again.status == InvitationStatus.REFUSED
    assert again.flag_reason == str(invites.REFUSED_EMAIL_REWARDED)
    assert rewards(other) == []


def test_the_monthly_cap_refuses_rewards_past_it(user, code, pro, settings):
    settings.INVITE_REWARDS_PER_MONTH = 2
    for number in range(3):
        client, _ = sign_up(f"friend{number}@example.org", code, ip=f"192.0.2.{number + 1}", agent=f"phone {number}")
        verify(client, f"friend{number}@example.org")
    statuses = dict(Invitation.objects.values_list("invitee__email", "status"))
    assert statuses == {"friend0@example.org": "rewarded", "friend1@example.org": "rewarded",
                        "friend2@example.org": "refused"}
    assert Invitation.objects.get(status="refused").flag_reason == str(invites.REFUSED_MONTHLY_CAP) % {"count": 2}
    assert reward_days(user) == 2 * pro.invite_reward_days


def test_the_cap_counts_this_month_only(user, code, pro, settings):
    settings.INVITE_REWARDS_PER_MONTH = 1
    client, _ = sign_up("friend0@example.org", code, ip="192.0.2.1", agent="phone 0")
    verify(client, "friend0@example.org")
    Invitation.objects.update(rewarded_at=timezone.now() - dt.timedelta(days=40))
    client, _ = sign_up("friend1@example.org", code, ip="192.0.2.2", agent="phone 1")
    verify(client, "friend1@example.org")
    assert Invitation.objects.get(invitee__email="friend1@example.org").status == InvitationStatus.REWARDED


# --- the admin's review ---------------------------------------------------------------------------
def _flagged(user, code) -> Invitation:
    client, _ = sign_up("friend@example.org", code)
    Invitation.objects.update(signup_ip=None)
    AuditEntry.objects.create(actor=user, actor_kind="user", action="account.signup", object_type="accounts.user",
                              after={"device_hash": Invitation.objects.get().device_hash})
    verify(client, "friend@example.org")
    invitation = Invitation.objects.get()
    assert invitation.status == InvitationStatus.FLAGGED
    return invitation


def test_an_admin_approves_a_flagged_invitation_and_both_are_rewarded(user, code, pro):
    admin = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    invitation = _flagged(user, code)
    client = Client()
    client.force_login(admin)
    response = client.post("/admin/accounts/invitation/", {"action": "approve_invitations",
                                                           "_selected_action": [invitation.pk]})
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REWARDED and invitation.reviewed_by == admin
    assert len(rewards(user)) == 1 and len(rewards(invitation.invitee)) == 1
    entry = AuditEntry.objects.get(action="invitation.rewarded")
    assert entry.actor == admin and entry.actor_kind == AuditEntry.ActorKind.ADMIN


def test_an_admin_refuses_a_flagged_invitation(user, code, pro):
    admin = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    invitation = _flagged(user, code)
    client = Client()
    client.force_login(admin)
    client.post("/admin/accounts/invitation/", {"action": "refuse_invitations", "_selected_action": [invitation.pk]})
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REFUSED and invitation.reviewed_by == admin
    assert rewards(user) == []
    with pytest.raises(ApplicationError):
        invites.invitation_approve(actor=Actor.of_admin(admin), invitation=invitation)


def test_the_flagged_filter_lists_only_flagged_invitations(user, code, pro):
    admin = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    _flagged(user, code)
    sign_up("pending@example.org", code, ip="192.0.2.9", agent="other")
    client = Client()
    client.force_login(admin)
    html = client.get("/admin/accounts/invitation/?status__exact=flagged").content.decode()
    assert "fr***@example.org" in html or "friend@example.org" in html
    assert "pending@example.org" not in html


# --- who sees what ------------------------------------------------------------------------------
def test_another_user_never_sees_my_invitations(user, other_user, code, pro):
    sign_up("friend@example.org", code)
    mine = Client()
    mine.force_login(user)
    assert "fr***@example.org" in mine.get("/accounts/invites/").content.decode()
    theirs = Client()
    theirs.force_login(other_user)
    assert "fr***@example.org" not in theirs.get("/accounts/invites/").content.decode()
    body = theirs.get("/api/v1/invites/").json()
    assert body["invitations"] == [] and body["code"] != code
    assert "friend@example.org" not in mine.get("/api/v1/invites/").content.decode()  # masked for me too


def test_the_invites_page_and_api_need_a_signed_in_user(db):
    assert Client().get("/accounts/invites/").status_code == 302
    assert Client().get("/api/v1/invites/").status_code in (401, 403)


def test_a_failing_reward_never_fails_the_email_confirmation(user, code, pro, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("plan service down")

    monkeypatch.setattr("coupons.services.subscription_grant", broken)
    client, _ = sign_up("friend@example.org", code)
    verify(client, "friend@example.org")  # the confirmation still goes through
    assert EmailAddress.objects.get(email="friend@example.org").verified
    assert Invitation.objects.get().status == InvitationStatus.JOINED and rewards(user) == []


def test_the_admin_shows_an_inviters_tree_one_level_down(user, code, pro):
    admin = UserFactory(email="ops@example.com", is_staff=True, is_superuser=True)
    client, _ = sign_up("friend@example.org", code)
    friend = Invitation.objects.get().invitee
    friend_code = invites.invite_code_get_or_create(user=friend).code
    sign_up("friend.of.friend@example.org", friend_code, ip="192.0.2.50", agent="third phone")
    page = Client()
    page.force_login(admin)
    listing = page.get("/admin/accounts/invitecode/").content.decode()
    assert code in listing and friend_code in listing
    html = page.get(f"/admin/accounts/invitecode/{InviteCode.objects.get(user=user).pk}/change/").content.decode()
    tree = html[html.index("<ul><li>"):]
    assert tree.index("friend@example.org") < tree.index("friend.of.friend@example.org")
