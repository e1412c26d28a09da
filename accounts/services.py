"""Every write to accounts: preferences, API tokens, demo users."""

from __future__ import annotations

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import lockout
from accounts.models import ApiToken, User, hash_token_key
from accounts.preferences import Preferences
from core.errors import ApplicationError

INVALID_CREDENTIALS = _("The email address and/or password you specified are not correct.")
EMAIL_NOT_VERIFIED = _("Verify your email address first: follow the link we sent you.")
MFA_CODE_REQUIRED = _("Two-factor authentication is on: enter the code from your authenticator app.")
MFA_CODE_INVALID = _("Incorrect code.")
NOT_A_TOKEN_SESSION = _("This request was not authenticated with a token.")

PROFILE_FIELDS = ("display_name", "theme", "language", "timezone", "price_colors")


@transaction.atomic
def user_profile_update(*, user: User, **changes: str) -> User:
    """Save any of display_name, theme, language, timezone, price_colors.

    Raises ValidationError naming the bad field; nothing is saved then.
    """
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown preference.") for name in unknown})
    if not changes:
        return user
    for name, value in changes.items():
        setattr(user, name, value)
    try:
        user.full_clean(exclude=[f.name for f in User._meta.fields if f.name not in changes])
    except ValidationError:
        user.refresh_from_db(fields=list(changes))
        raise
    user.save(update_fields=list(changes))
    return user


def user_preferences_adopt(*, user: User, preferences: Preferences) -> User:
    """A visitor who signs up keeps the look they chose before having an account."""
    return user_profile_update(
        user=user,
        theme=preferences.theme,
        language=preferences.language,
        timezone=preferences.timezone,
        price_colors=preferences.price_colors,
    )


def second_factor_verify(*, request, user: User, code: str) -> Authenticator:
    """Check a TOTP or recovery code, as one sign-in attempt of accounts.lockout (page and API).

    Returns the authenticator that took the code. Raises AccountLocked, TooManyAttempts, or
    ApplicationError(MFA_CODE_INVALID); a wrong code counts towards the account's lock.
    """
    attempt = lockout.sign_in_attempt_begin(request, user=user)
    code = (code or "").strip()
    # TOTP first: a code that is also an unused recovery code is not burnt needlessly
    authenticators = Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    ).order_by("-type")
    for authenticator in authenticators:
        if authenticator.wrap().validate_code(code):
            lockout.sign_in_attempt_succeeded(attempt)
            return authenticator
    lockout.sign_in_attempt_failed(request, user=user)
    raise ApplicationError(MFA_CODE_INVALID, field="otp_code", code="mfa_invalid")


def _password_verify(*, request, email: str, password: str) -> User | None:
    """allauth's own check, the login page's: the same count of attempts, the same lock."""
    try:
        return get_account_adapter(request).authenticate(request, email=email, password=password)
    except ValidationError as error:
        if isinstance(error.__cause__, ApplicationError):  # AccountLocked, TooManyAttempts
            raise error.__cause__ from None
        raise


def api_token_issue(*, email: str, password: str, otp_code: str = "", device_name: str = "", request=None):
    """Trade credentials (and the TOTP or a recovery code when 2FA is on) for a new token.

    Returns ``(token, key)``; the key is shown once and only its hash is kept. Raises
    AccountLocked / TooManyAttempts (accounts.lockout) as the login page refuses.
    """
    # Not one transaction: a failed attempt (and a lock it causes) must stay written.
    user = _password_verify(request=request, email=(email or "").strip().lower(), password=password)
    if user is None or not user.is_active:
        raise ApplicationError(INVALID_CREDENTIALS, code="invalid_credentials")
    if not EmailAddress.objects.filter(user=user, verified=True).exists() and not user.is_superuser:
        raise ApplicationError(EMAIL_NOT_VERIFIED, code="email_not_verified")
    if is_mfa_enabled(user):
        if not otp_code:
            raise ApplicationError(MFA_CODE_REQUIRED, field="otp_code", code="mfa_required")
        second_factor_verify(request=request, user=user, code=otp_code)
    return api_token_create(user=user, name=device_name)


def api_token_create(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=key[: ApiToken.PREFIX_LENGTH], key_hash=hash_token_key(key)
    )
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    token.delete()


def api_token_touch(*, token: ApiToken) -> None:
    """Record use, at most once a minute, so a busy app does not write on every call."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


@transaction.atomic
def demo_user_ensure(*, email: str, password: str, staff: bool = False) -> tuple[User, bool]:
    """Create a verified demo account, or bring an existing one back to ``password`` and ``staff``.
    Returns (user, created).

    Idempotent: seeding again changes nothing that is already right. In particular the password is
    set only when it does not match, because a new hash rotates the session auth hash and would sign
    out every session of the account (``./dev run`` seeds on each start)."""
    user, created = User.objects.get_or_create(email=email, defaults={"is_staff": staff, "is_superuser": staff})
    changed = []
    if created or not user.check_password(password):
        user.set_password(password)
        changed.append("password")
    if (user.is_staff, user.is_superuser) != (staff, staff):
        user.is_staff = user.is_superuser = staff
        changed += ["is_staff", "is_superuser"]
    if changed:
        user.save(update_fields=changed)
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user, created
