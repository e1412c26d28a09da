"""Friend invites: personal codes and links, attribution at sign-up, rewards at email verification.

Services (writes, each audited) and selectors (reads scoped to the inviter) of the invite feature:

- every user has one short, readable code (``invite_code_get_or_create``, created on first need);
  the link is built from ``settings.SITE_URL``, never from the host a request came in on;
- sign-up with a code writes an ``Invitation`` (status ``joined``) with the client address (as
  ``core.proxies`` resolved it) and a device fingerprint (``invitation_create``);
- the invitee's email verification decides (``invitation_on_email_confirmed``): both people get the
  reward plan's ``invite_reward_days`` through ``coupons.services.subscription_grant`` (source
  ``invite``), once; or the invitation is refused (self-invite, an email already rewarded, the
  inviter's monthly cap) or flagged for review (the inviter's or another rewarded invitee's address
  or device). An admin approves (``invitation_approve``) or refuses (``invitation_refuse``) a flag.

Email addresses are compared by identity: letter case, a ``+tag`` and Gmail's dots do not make a
new person. The identity of every rewarded invitee is kept hashed in the audit log, so an account
deleted and created again with the same address is not rewarded twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Invitation, InvitationStatus, InviteCode, User
from coupons import codes
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from core.models import AuditEntry

# coupons.codes' readable alphabet (no 0/O, 1/I/L), two groups of four: 8 characters
CODE_GROUPS = 2
CODE_LENGTH = CODE_GROUPS * codes.GROUP
SESSION_KEY = "invite_code"
DEFAULT_REWARDS_PER_MONTH = 10
SYSTEM = Actor.system("invites", door="web")
log = logging.getLogger("accounts.invites")

INVITE_UNKNOWN = _("This invite code does not exist. Check it, or leave the field empty.")
INVITE_SELF = _("This is your own invite code: an invite is for someone else.")
REFUSED_SELF = _("Self-invite: the invitee's email address is the inviter's.")
REFUSED_EMAIL_REWARDED = _("This email address was already rewarded for an invite.")
REFUSED_MONTHLY_CAP = _("The inviter reached this month's limit of %(count)d invite rewards.")
REFUSED_BY_ADMIN = _("Refused by an admin.")
FLAG_SAME_AS_INVITER = _("Signed up from the inviter's own address or device.")
FLAG_SAME_AS_INVITEE = _("Signed up from the address or device of another rewarded invitee of the same inviter.")
NO_REWARD_PLAN = _("No plan gives invite rewards yet: an admin can approve it once one does.")
NOT_REVIEWABLE = _("Only a flagged invitation, or a verified one waiting for a reward plan, can be approved.")
NOT_VERIFIED = _("The invitee has not verified their email address yet.")
ALREADY_SETTLED = _("This invitation was already rewarded or refused.")
INVITES_CLOSED = _("Invites are closed for now: sign up without a code.")

# audit actions whose rows carry a user's own address and device (checked for same-person invites)
FINGERPRINT_ACTIONS = ("account.signup", "invite_code.create")
REWARDED_ACTION = "invitation.rewarded"


# ---------------------------------------------------------------------------
# Small pure helpers
# ---------------------------------------------------------------------------
def code_normalize(text: str) -> str:
    """What a person typed (spaces, dashes, lower case) as the stored form of a code."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def email_identity(email: str) -> str:
    """The person behind an address: lower case, no ``+tag``; Gmail ignores dots and its two domains."""
    local, _at, domain = (email or "").strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def email_key(email: str) -> str:
    """The identity hashed (what the audit log keeps: no address in clear)."""
    return hashlib.sha256(email_identity(email).encode()).hexdigest()


def email_mask(email: str) -> str:
    """``ab***@example.com``: enough for the inviter to recognise a friend, not to harvest addresses."""
    local, _at, domain = (email or "").rpartition("@")
    return f"{local[:2]}***@{domain}" if domain else "***"


@dataclass(frozen=True)
class Fingerprint:
    ip: str | None
    device_hash: str

    @classmethod
    def of_request(cls, request: HttpRequest | None) -> Fingerprint:
        """The client address (``REMOTE_ADDR``, already resolved behind trusted proxies by
        ``core.proxies``) and a hash of the user agent and accepted languages."""
        if request is None:
            return cls(None, "")
        meta = request.META
        agent, languages = meta.get("HTTP_USER_AGENT", ""), meta.get("HTTP_ACCEPT_LANGUAGE", "")
        device = hashlib.sha256(f"{agent}\n{languages}".encode()).hexdigest() if agent or languages else ""
        return cls(meta.get("REMOTE_ADDR") or None, device)


def rewards_per_month() -> int:
    return int(getattr(settings, "INVITE_REWARDS_PER_MONTH", DEFAULT_REWARDS_PER_MONTH))


def invite_link(*, code: str) -> str:
    """The absolute sign-up link for a code, on the public address (``SITE_URL``)."""
    return f"{settings.SITE_URL}{reverse('account_signup')}?invite={code}"


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s month in the site's time zone (Asia/Seoul)."""
    local = timezone.localtime(now)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------------------
# Selectors
# ---------------------------------------------------------------------------
def invite_code_find(*, code: str) -> InviteCode | None:
    normalized = code_normalize(code)
    if not normalized:
        return None
    return InviteCode.objects.select_related("user").filter(code=normalized, user__is_active=True).first()


def invitation_list(*, inviter: User) -> QuerySet[Invitation]:
    """The inviter's invitations, newest first (ownership lives here)."""
    return Invitation.objects.filter(inviter=inviter).select_related("invitee")


def reward_plan():
    """The plan an invite gives (the highest with ``invite_reward_days``), or None."""
    from coupons.models import Plan

    return Plan.objects.filter(invite_reward_days__gt=0).order_by("-rank").first()


def invite_rewards(*, user: User) -> QuerySet:
    """The user's subscriptions that came from invites (as inviter or invitee)."""
    from coupons.models import Subscription, SubscriptionSource

    return Subscription.objects.filter(user=user, source=SubscriptionSource.INVITE).select_related("plan")


@dataclass(frozen=True)
class InviteRow:
    """One invitation as its inviter sees it: the friend's address masked."""

    email: str
    status: str
    status_label: str
    joined_at: datetime
    verified_at: datetime | None
    rewarded_at: datetime | None


@dataclass(frozen=True)
class InviteOverview:
    code: str
    link: str
    invitations: list[InviteRow]
    rewarded_count: int
    days_earned: int
    reward_plan: str
    reward_days: int
    joined_with_invite: bool


def invite_overview(*, user: User, fingerprint: Fingerprint | None = None) -> InviteOverview:
    """What the 친구 초대 page and the API show a user: their code and link, whom they invited, and
    the days of the reward plan earned (as inviter and as invitee). Creates the code on first need."""
    invite_code = invite_code_get_or_create(user=user, fingerprint=fingerprint)
    invitations = list(invitation_list(inviter=user))
    rows = [InviteRow(email=email_mask(invitation.invitee.email), status=invitation.status,
                      status_label=invitation.get_status_display(), joined_at=invitation.created_at,
                      verified_at=invitation.verified_at, rewarded_at=invitation.rewarded_at)
            for invitation in invitations]
    rewarded_ids = [str(invitation.pk) for invitation in invitations if invitation.status == InvitationStatus.REWARDED]
    own = Invitation.objects.filter(invitee=user).only("pk", "status").first()
    if own is not None and own.status == InvitationStatus.REWARDED:
        rewarded_ids.append(str(own.pk))
    granted = AuditEntry.objects.filter(action=REWARDED_ACTION, object_type="accounts.invitation",
                                        object_id__in=rewarded_ids).values_list("after", flat=True)
    plan = reward_plan()
    return InviteOverview(
        code=invite_code.code, link=invite_link(code=invite_code.code), invitations=rows,
        rewarded_count=sum(row.status == InvitationStatus.REWARDED for row in rows),
        days_earned=sum(int(after.get("days") or 0) for after in granted),
        reward_plan=plan.name if plan else "", reward_days=plan.invite_reward_days if plan else 0,
        joined_with_invite=own is not None,
    )


# ---------------------------------------------------------------------------
# Services: codes and attribution
# ---------------------------------------------------------------------------
def invite_code_get_or_create(*, user: User, fingerprint: Fingerprint | None = None) -> InviteCode:
    """The user's code, created on first need (a clash of random codes is retried)."""
    existing = InviteCode.objects.filter(user=user).first()
    if existing is not None:
        return existing
    fingerprint = fingerprint or Fingerprint(None, "")
    for _attempt in range(10):
        try:
            with transaction.atomic():
                invite_code = InviteCode.objects.create(user=user, code=codes.generate(groups=CODE_GROUPS))
                audit_record(actor=Actor.of_user(user, ip=fingerprint.ip), action="invite_code.create", owner=user,
                             target=invite_code, after={"device_hash": fingerprint.device_hash})
                return invite_code
        except IntegrityError:
            existing = InviteCode.objects.filter(user=user).first()
            if existing is not None:  # created meanwhile by another request of the same user
                return existing
    raise RuntimeError("could not find a free invite code")


def signup_fingerprint_record(*, user: User, fingerprint: Fingerprint) -> None:
    """Keep a new account's address and device (compared when someone it invites signs up)."""
    audit_record(actor=Actor.of_user(user, ip=fingerprint.ip), action="account.signup", owner=user,
                 target=user, after={"device_hash": fingerprint.device_hash})


def invite_code_check(*, code: str, email: str = "") -> InviteCode:
    """The code someone signing up as ``email`` typed, if it may be used. Raises ApplicationError
    (field ``invite``) for an unknown code or the person's own, or while operators closed invites."""
    from core.system.selectors import system_settings

    if not system_settings().invites_open:
        raise ApplicationError(str(INVITES_CLOSED), field="invite", code="invites_closed")
    invite_code = invite_code_find(code=code)
    if invite_code is None:
        raise ApplicationError(str(INVITE_UNKNOWN), field="invite", code="invite_unknown")
    if email and _is_self(invite_code.user, email):
        raise ApplicationError(str(INVITE_SELF), field="invite", code="invite_self")
    return invite_code


def invitation_create(*, invitee: User, code: str, fingerprint: Fingerprint) -> Invitation:
    """Attribute a new account to the owner of ``code`` (status ``joined``; the reward waits for the
    email verification). Raises ApplicationError (field ``invite``) for an unknown code or one's own."""
    invite_code = invite_code_check(code=code, email=invitee.email)
    if invite_code.user_id == invitee.pk:
        raise ApplicationError(str(INVITE_SELF), field="invite", code="invite_self")
    with transaction.atomic():
        invitation = Invitation.objects.create(inviter=invite_code.user, invitee=invitee, code=invite_code.code,
                                               signup_ip=fingerprint.ip, device_hash=fingerprint.device_hash)
        audit_record(actor=Actor.of_user(invitee, ip=fingerprint.ip), action="invitation.create",
                     owner=invite_code.user, target=invitation,
                     after={"code": invite_code.code, "status": invitation.status})
    return invitation


# ---------------------------------------------------------------------------
# Services: the decision at verification, rewards and reviews
# ---------------------------------------------------------------------------
def _same_person_as_inviter(invitation: Invitation) -> bool:
    ip, device = invitation.signup_ip, invitation.device_hash
    inviter = invitation.inviter
    own = Invitation.objects.filter(invitee=inviter)
    entries = AuditEntry.objects.filter(actor=inviter)
    match = Q()
    if ip:
        match |= Q(ip_address=ip)
    if device:
        match |= Q(action__in=FINGERPRINT_ACTIONS, after__device_hash=device)
    own_match = (Q(signup_ip=ip) if ip else Q()) | (Q(device_hash=device) if device else Q())
    return bool((match and entries.filter(match).exists()) or (own_match and own.filter(own_match).exists()))


def _same_person_as_rewarded_invitee(invitation: Invitation) -> bool:
    ip, device = invitation.signup_ip, invitation.device_hash
    match = (Q(signup_ip=ip) if ip else Q()) | (Q(device_hash=device) if device else Q())
    if not match:
        return False
    others = Invitation.objects.filter(inviter=invitation.inviter_id, status=InvitationStatus.REWARDED)
    return others.exclude(pk=invitation.pk).filter(match).exists()


def _is_self(inviter: User, email: str) -> bool:
    """Whether ``email`` is one of the inviter's own addresses (by identity)."""
    from allauth.account.models import EmailAddress

    identity = email_identity(email)
    addresses = [inviter.email, *EmailAddress.objects.filter(user=inviter).values_list("email", flat=True)]
    return any(email_identity(address) == identity for address in addresses)


@dataclass(frozen=True)
class Refusal:
    status: str
    code: str
    reason: str


def _refusal(invitation: Invitation, *, now: datetime) -> Refusal | None:
    """Why the invitation must not be rewarded now (refused or flagged); None when it may."""
    inviter, invitee = invitation.inviter, invitation.invitee
    if _is_self(inviter, invitee.email):
        return Refusal(InvitationStatus.REFUSED, "self", str(REFUSED_SELF))
    if AuditEntry.objects.filter(action=REWARDED_ACTION, after__email_key=email_key(invitee.email)).exists():
        return Refusal(InvitationStatus.REFUSED, "email_rewarded", str(REFUSED_EMAIL_REWARDED))
    if _same_person_as_inviter(invitation):
        return Refusal(InvitationStatus.FLAGGED, "same_as_inviter", str(FLAG_SAME_AS_INVITER))
    if _same_person_as_rewarded_invitee(invitation):
        return Refusal(InvitationStatus.FLAGGED, "same_as_invitee", str(FLAG_SAME_AS_INVITEE))
    cap = rewards_per_month()
    this_month = Invitation.objects.filter(inviter=inviter, status=InvitationStatus.REWARDED,
                                           rewarded_at__gte=month_start(now)).count()
    if this_month >= cap:
        return Refusal(InvitationStatus.REFUSED, "monthly_cap", str(REFUSED_MONTHLY_CAP) % {"count": cap})
    return None


def _lock(invitation_pk: int) -> Invitation:
    """The invitation locked, after its inviter's code: one inviter's rewards are decided one at a
    time (the monthly cap holds when two friends verify at once)."""
    inviter_id = Invitation.objects.values_list("inviter_id", flat=True).get(pk=invitation_pk)
    list(InviteCode.objects.select_for_update().filter(user_id=inviter_id))
    return Invitation.objects.select_for_update().select_related("inviter", "invitee").get(pk=invitation_pk)


def _settle(invitation: Invitation, *, actor: Actor, status: str, reason: str, reviewer: User | None = None) -> None:
    before = {"status": invitation.status}
    invitation.status, invitation.flag_reason = status, reason[:300]
    if reviewer is not None:
        invitation.reviewed_by = reviewer
    invitation.save(update_fields=["status", "flag_reason", "reviewed_by", "verified_at", "updated_at"])
    audit_record(actor=actor, action=f"invitation.{status}", owner=invitation.inviter, target=invitation,
                 before=before, after={"status": status}, reason=reason)


def _reward(invitation: Invitation, *, actor: Actor, now: datetime, reviewer: User | None = None) -> bool:
    """Grant both people the reward plan's days; False (and a note) when no plan gives rewards."""
    from coupons.services import subscription_grant

    plan = reward_plan()
    if plan is None:
        _settle(invitation, actor=actor, status=InvitationStatus.VERIFIED, reason=str(NO_REWARD_PLAN),
                reviewer=reviewer)
        return False
    inviter, invitee = invitation.inviter, invitation.invitee
    granted_by = actor.user if getattr(actor.user, "pk", None) else None
    subscription_grant(actor=actor, user=inviter, plan=plan, days=plan.invite_reward_days, source="invite",
                       note=f"invite: {email_mask(invitee.email)} joined", granted_by=granted_by)
    subscription_grant(actor=actor, user=invitee, plan=plan, days=plan.invite_reward_days, source="invite",
                       note=f"invite: joined with {invitation.code}", granted_by=granted_by)
    before = {"status": invitation.status}
    invitation.status, invitation.rewarded_at, invitation.flag_reason = InvitationStatus.REWARDED, now, ""
    if reviewer is not None:
        invitation.reviewed_by = reviewer
    invitation.save(update_fields=["status", "rewarded_at", "flag_reason", "reviewed_by", "verified_at",
                                   "updated_at"])
    audit_record(actor=actor, action=REWARDED_ACTION, owner=inviter, target=invitation, before=before,
                 after={"status": invitation.status, "plan": plan.code, "days": plan.invite_reward_days,
                        "email_key": email_key(invitee.email)})
    return True


def invitation_on_email_confirmed(*, user: User, email: str, now: datetime | None = None) -> Invitation | None:
    """The invitee confirmed an address: reward both, or refuse, or flag for review. Only the first
    confirmation of the account's own address counts; later ones change nothing (idempotent)."""
    if email_identity(email) != email_identity(user.email):
        return None
    pk = Invitation.objects.filter(invitee=user, status=InvitationStatus.JOINED).values_list("pk", flat=True).first()
    if pk is None:
        return None
    now = now or timezone.now()
    with transaction.atomic():
        invitation = _lock(pk)
        if invitation.status != InvitationStatus.JOINED:
            return invitation
        invitation.verified_at = now
        refusal = _refusal(invitation, now=now)
        if refusal is not None:
            _settle(invitation, actor=SYSTEM, status=refusal.status, reason=refusal.reason)
        else:
            _reward(invitation, actor=SYSTEM, now=now)
    return invitation


def email_confirmed_handle(*, user: User, email: str) -> None:
    """The ``email_confirmed`` receiver's door: a reward that fails (a bug, a plan misconfigured) is
    logged and left ``joined`` (its transaction rolled back), never a failed email confirmation."""
    try:
        invitation_on_email_confirmed(user=user, email=email)
    except Exception:
        log.exception("invite reward failed for user %s; the invitation stays joined", user.pk)


def invitation_approve(*, actor: Actor, invitation: Invitation, now: datetime | None = None) -> Invitation:
    """An admin's yes to a flagged invitation (or a verified one that waited for a reward plan):
    both are rewarded. The hard rules still hold: a self-invite or an address already rewarded is
    refused. Raises ApplicationError when the invitation is not waiting for a review."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = _lock(invitation.pk)
        if invitation.status not in (InvitationStatus.FLAGGED, InvitationStatus.VERIFIED):
            raise ApplicationError(str(NOT_REVIEWABLE), code="not_reviewable")
        if invitation.verified_at is None:
            raise ApplicationError(str(NOT_VERIFIED), code="not_verified")
        # the admin overrules the heuristics and the monthly cap, never the hard rules
        refusal = _refusal(invitation, now=now)
        if refusal is not None and refusal.code in ("self", "email_rewarded"):
            raise ApplicationError(refusal.reason, code=refusal.code)
        _reward(invitation, actor=actor, now=now, reviewer=actor.user)
    return invitation


def invitation_refuse(*, actor: Actor, invitation: Invitation, reason: str = "") -> Invitation:
    """An admin's no: the invitation is never rewarded. Raises ApplicationError once settled."""
    with transaction.atomic():
        invitation = _lock(invitation.pk)
        if invitation.status in (InvitationStatus.REWARDED, InvitationStatus.REFUSED):
            raise ApplicationError(str(ALREADY_SETTLED), code="settled")
        _settle(invitation, actor=actor, status=InvitationStatus.REFUSED, reason=reason or str(REFUSED_BY_ADMIN),
                reviewer=actor.user)
    return invitation
