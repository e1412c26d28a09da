"""Users log in with their email; their preferences live on the user row."""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel

DEFAULT_TIMEZONE = "Asia/Seoul"
# The zones a Korean investor is likely to pick first; any IANA name is accepted.
COMMON_TIMEZONES = [
    "Asia/Seoul",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(value)s"), params={"value": value}, code="invalid_timezone")


class Theme(models.TextChoices):
    SYSTEM = "system", _("Follow the system")
    LIGHT = "light", _("Light")
    DARK = "dark", _("Dark")


class Language(models.TextChoices):
    KOREAN = "ko", _("Korean")
    ENGLISH = "en", _("English")


class PriceColors(models.TextChoices):
    """Which colour means up. Korean brokers show rises in red and falls in blue; most others in
    green and red. Until the user picks one, it follows the language (``AUTO``)."""

    AUTO = "auto", _("Follow the language (Korean: red up)")
    KOREAN = "kr", _("Red up, blue down (Korean)")
    INTERNATIONAL = "intl", _("Green up, red down")


def red_up(price_colors: str, language: str) -> bool:
    """Whether rises are shown in red (the Korean convention) for this choice and language."""
    if price_colors == PriceColors.AUTO:
        return language == Language.KOREAN
    return price_colors == PriceColors.KOREAN


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    theme = models.CharField(_("theme"), max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, default=Language.KOREAN)
    timezone = models.CharField(
        _("time zone"), max_length=64, default=DEFAULT_TIMEZONE, validators=[validate_timezone]
    )
    price_colors = models.CharField(
        _("price colours"), max_length=5, choices=PriceColors.choices, default=PriceColors.AUTO
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email.split("@")[0]


def hash_token_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(BaseModel):
    """A bearer token for the mobile app. Only its hash is stored; the key is shown once."""

    PREFIX_LENGTH = 8

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("device name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=PREFIX_LENGTH, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.user})"

    @staticmethod
    def generate_key() -> str:
        return secrets.token_urlsafe(32)


class LoginLock(BaseModel):
    """New sign-ins to the account are refused until ``locked_until`` (too many failed attempts).

    Only new sign-ins: sessions and API tokens already issued keep working. Written and lifted by
    accounts.lockout (cool-down, password reset, an admin).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="login_lock")
    locked_until = models.DateTimeField(_("locked until"))

    class Meta:
        verbose_name = _("sign-in lock")
        verbose_name_plural = _("sign-in locks")

    def __str__(self) -> str:
        return f"{self.user} until {self.locked_until:%Y-%m-%d %H:%M}"


class InviteCode(models.Model):
    """A user's personal invite code (short, readable, unique); the link is built from ``SITE_URL``."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="invite_code")
    code = models.CharField(_("invite code"), max_length=12, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("invite code")
        verbose_name_plural = _("invite codes")

    def __str__(self) -> str:
        return self.code


class InvitationStatus(models.TextChoices):
    JOINED = "joined", _("Joined, email not verified yet")
    VERIFIED = "verified", _("Email verified")
    REWARDED = "rewarded", _("Rewarded")
    FLAGGED = "flagged", _("Flagged for review")
    REFUSED = "refused", _("Not rewarded")


class Invitation(BaseModel):
    """Who invited whom: written at sign-up with the code used, kept through email verification
    (the reward waits for it), with the sign-up's address and device fingerprint for the
    anti-abuse heuristics (same person: flagged for review, never silently rewarded)."""

    inviter = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations_sent")
    invitee = models.OneToOneField(User, on_delete=models.CASCADE, related_name="invitation")
    code = models.CharField(_("code used"), max_length=12)
    status = models.CharField(_("status"), max_length=10, choices=InvitationStatus.choices,
                              default=InvitationStatus.JOINED, db_index=True)
    signup_ip = models.GenericIPAddressField(_("sign-up address"), null=True, blank=True)
    device_hash = models.CharField(_("device fingerprint"), max_length=64, blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    rewarded_at = models.DateTimeField(_("rewarded"), null=True, blank=True)
    flag_reason = models.CharField(_("why flagged or refused"), max_length=300, blank=True)
    reviewed_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=~models.Q(inviter=models.F("invitee")),
                                              name="invitation_not_self")]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.inviter_id} → {self.invitee_id} ({self.status})"
