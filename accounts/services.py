"""Every write to accounts: preferences, API tokens, demo users."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiToken, User, hash_token_key
from accounts.preferences import Preferences
from core.errors import ApplicationError

INVALID_CREDENTIALS = _("The email address and/or password you specified are not correct.")
EMAIL_NOT_VERIFIED = _("Verify your email address first: follow the link we sent you.")
MFA_CODE_REQUIRED = _("Two-factor authentication is on: enter the code from your authenticator app.")
MFA_CODE_INVALID = _("Incorrect code.")
NOT_A_TOKEN_SESSION = _("This request was not authenticated with a token.")

PROFILE_FIELDS = ("display_name", "theme", "language", "timezone")


@transaction.atomic
def user_profile_update(*, user: User, **changes: str) -> User:
    """Save any of display_name, theme, language, timezone.

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
        user=user, theme=preferences.theme, language=preferences.language, timezone=preferences.timezone
    )


def _check_second_factor(user: User, code: str) -> None:
    if not code:
        raise ApplicationError(MFA_CODE_REQUIRED, field="otp_code", code="mfa_required")
    authenticators = Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    )
    if not any(authenticator.wrap().validate_code(code.strip()) for authenticator in authenticators):
        raise ApplicationError(MFA_CODE_INVALID, field="otp_code", code="mfa_invalid")


@transaction.atomic
def api_token_issue(*, email: str, password: str, otp_code: str = "", device_name: str = "", request=None):
    """Trade credentials (and the TOTP or a recovery code when 2FA is on) for a new token.

    Returns ``(token, key)``; the key is shown once and only its hash is kept.
    """
    user = authenticate(request, email=(email or "").strip().lower(), password=password)
    if user is None or not user.is_active:
        raise ApplicationError(INVALID_CREDENTIALS, code="invalid_credentials")
    if not EmailAddress.objects.filter(user=user, verified=True).exists() and not user.is_superuser:
        raise ApplicationError(EMAIL_NOT_VERIFIED, code="email_not_verified")
    if is_mfa_enabled(user):
        _check_second_factor(user, otp_code)
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
    """Create (or reset the password of) a verified demo account. Returns (user, created)."""
    user, created = User.objects.get_or_create(email=email, defaults={"is_staff": staff, "is_superuser": staff})
    user.set_password(password)
    user.is_staff = user.is_superuser = staff
    user.save()
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user, created
