"""One limit on failed sign-ins, whichever door is used.

The login page (allauth, through ``AccountAdapter``), its 2FA step (``MfaAuthenticateForm``) and the
API token endpoint (``services.api_token_issue``: password, then code) all call the same three steps:

1. ``sign_in_attempt_begin`` before a password or a code is checked: refused at once when the
   account is locked, or when this address has failed too often; otherwise the attempt is counted;
2. ``sign_in_attempt_succeeded`` (the attempt is taken back, as allauth does), or
3. ``sign_in_attempt_failed``: the attempt stays counted, and the account is locked once its count
   is used up.

Counting uses allauth's rate-limit machinery (``allauth.core.internal.ratelimit``, in the cache) with
the rates of ``ACCOUNT_RATE_LIMITS["login_failed"]``: the ``/ip`` rates per client address (resolved
by core.proxies) and the ``/key`` rates per account, keyed by the user's id whatever email address,
letter case, host or door was used. The lock itself is a ``LoginLock`` row, so every process sees
it and an admin can lift it; it stops new sign-ins only (issued sessions and tokens keep working).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from allauth.account import app_settings as account_settings
from allauth.account.utils import filter_users_by_email
from allauth.core.internal import ratelimit
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from accounts.models import LoginLock, User
from core.errors import ApplicationError

ACCOUNT_LOCKED = _(
    "Too many failed sign-in attempts: this account is locked for a while. "
    "Try again later, or reset your password to unlock it now."
)
TOO_MANY_ATTEMPTS = _("Too many failed sign-in attempts from your network. Try again in a few minutes.")
LOCKED_EMAIL_SUBJECT = _("Your account was locked after failed sign-in attempts")
LOCKED_EMAIL_BODY = _(
    "Someone, perhaps you, entered a wrong password or code for %(email)s several times, so new "
    "sign-ins to your account are refused until %(until)s. Devices and browsers already signed in "
    "keep working.\n\n"
    "To unlock it now, reset your password:\n%(reset_url)s\n\n"
    "If it was not you, reset your password anyway and turn on two-factor authentication."
)

RATE_APP = "allauth.account"
RATE_ACTION = "login_failed"

log = logging.getLogger("accounts.security")


class AccountLocked(ApplicationError):
    status = 429
    code = "account_locked"


class TooManyAttempts(ApplicationError):
    status = 429
    code = "too_many_attempts"


def account_for_login(login: str) -> User | None:
    """The account an email address typed at sign-in belongs to (any of its addresses), if any."""
    users = filter_users_by_email((login or "").strip(), prefer_verified=True)
    return users[0] if users else None


def attempt_key(*, user: User | None, login: str = "") -> str:
    """The per-account count's key: the user's id, or the address typed when it names no account
    (so an unknown address is answered exactly as a locked one: no hint whether it exists)."""
    return f"user:{user.pk}" if user is not None else f"login:{(login or '').strip().lower()}"


def _rates(per: str) -> dict[str, str]:
    """``ACCOUNT_RATE_LIMITS["login_failed"]`` narrowed to its ``/ip`` or its ``/key`` rates."""
    text = account_settings.RATE_LIMITS.get(RATE_ACTION) or ""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return {RATE_ACTION: ",".join(part for part in parts if ratelimit.parse_rate(part).per == per)}


def is_locked(user: User) -> bool:
    return LoginLock.objects.filter(user=user, locked_until__gt=timezone.now()).exists()


def sign_in_attempt_begin(request: HttpRequest, *, user: User | None, login: str = "") -> ratelimit.RateLimitUsage:
    """Count one attempt against the account and the address; returns the usage to take back.

    Raises AccountLocked (the same words for a locked account, a used-up count and an unknown
    address) or TooManyAttempts (this address); nothing is counted then.
    """
    if user is not None and is_locked(user):
        raise AccountLocked(ACCOUNT_LOCKED)
    key = attempt_key(user=user, login=login)
    per_account = ratelimit.consume(request, app=RATE_APP, action=RATE_ACTION, config=_rates("key"), key=key)
    if per_account is None:
        raise AccountLocked(ACCOUNT_LOCKED)
    per_address = ratelimit.consume(request, app=RATE_APP, action=RATE_ACTION, config=_rates("ip"))
    if per_address is None:
        per_account.rollback()
        raise TooManyAttempts(TOO_MANY_ATTEMPTS)
    return ratelimit.RateLimitUsage(usage=per_account.usage + per_address.usage)


def sign_in_attempt_succeeded(usage: ratelimit.RateLimitUsage | None) -> None:
    # Taken back rather than wiped (allauth's reasoning): a successful sign-in slipped in now and
    # then must not reset an attacker's count.
    if usage is not None:
        usage.rollback()


def sign_in_attempt_failed(request: HttpRequest, *, user: User | None) -> None:
    """The attempt stays counted; the account is locked when that used up its count."""
    if user is None:
        return
    key = attempt_key(user=user)
    room_left = ratelimit.consume(
        request, app=RATE_APP, action=RATE_ACTION, config=_rates("key"), key=key, dry_run=True
    )
    if room_left is None:
        account_lock(user=user, client_ip=request.META.get("REMOTE_ADDR", ""))


def _forget_count(user: User) -> None:
    # per-account rates only: they never read the request
    ratelimit.clear(None, app=RATE_APP, action=RATE_ACTION, config=_rates("key"), key=attempt_key(user=user))


def account_lock(*, user: User, client_ip: str = "") -> LoginLock:
    """Refuse new sign-ins for LOGIN_LOCK_MINUTES; the owner is told by email (after commit)."""
    until = timezone.now() + timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
    with transaction.atomic():
        lock, _ = LoginLock.objects.update_or_create(user=user, defaults={"locked_until": until})
        # the lock holds from here: once it lifts, the account starts a fresh count
        _forget_count(user)
        transaction.on_commit(lambda: _send_locked_email(user=user, until=until))
    # No audit model yet (issue 13): the security log carries it.
    log.warning("sign-in lock: user %s (%s) locked until %s after failed attempts, last from %s",
                user.pk, user.email, until.isoformat(), client_ip or "?")  # fmt: skip
    return lock


def account_unlock(*, user: User, by: str) -> bool:
    """Lift the lock now (``by``: who or what, for the log). Returns whether a lock was in force."""
    with transaction.atomic():
        was_locked = is_locked(user)
        LoginLock.objects.filter(user=user).delete()
        _forget_count(user)
    if was_locked:
        log.warning("sign-in lock: user %s (%s) unlocked by %s", user.pk, user.email, by)
    return was_locked


def _send_locked_email(*, user: User, until) -> None:
    with translation.override(user.language), timezone.override(user.timezone):
        body = LOCKED_EMAIL_BODY % {
            "email": user.email,
            "until": date_format(timezone.localtime(until), "DATETIME_FORMAT"),
            "reset_url": settings.SITE_URL + reverse("account_reset_password"),
        }
        subject = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{LOCKED_EMAIL_SUBJECT}"
    send_mail(subject, body, None, [user.email])
