"""Plans, subscriptions, coupons and redemptions (issue: growth).

- ``Plan``: a set of limits (editable in the admin); ``rank`` orders them (Free lowest). Exactly one
  plan is the default (``is_default``): the plan of every user without an active subscription.
- ``Subscription``: a user's plan for a period, with where it came from (``source``). A user has at
  most one ``active`` subscription (a partial unique constraint); when it ends the user falls back
  to the default plan (or to a ``scheduled`` one that starts then: the rest of a plan that a
  time-limited upgrade interrupted). ``warned_7d_at``/``warned_1d_at`` record the end-of-plan warnings sent.
- ``Coupon``: free days of a plan (a trial for a user on Free) or an upgrade to a higher plan for a
  period; validity window, caps in total and per user, new users only, the plans it may be redeemed
  from, a campaign. ``kind`` leaves room for discounts once payments exist (none is offered now).
  ``redeemed_count`` is the counter the atomic redemption increments.
- ``Redemption``: one use of a coupon by a user, and the subscription it gave.

Invitations live with accounts (``accounts.Invitation``); a reward is a ``Subscription`` with source
``invite``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel

__all__ = ["Coupon", "CouponKind", "Plan", "Redemption", "Subscription", "SubscriptionSource", "SubscriptionStatus"]


def _limit(verbose: Any) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(verbose)


class Plan(BaseModel):
    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=60)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True, help_text=_("Higher is a bigger plan."))
    is_default = models.BooleanField(_("default plan"), default=False,
                                     help_text=_("The plan of every user without a subscription (Free)."))
    is_public = models.BooleanField(_("shown on the plans page"), default=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    # limits (0 means none allowed; the live-trading issue enforces the deployment ones)
    max_strategies = _limit(_("strategies"))
    max_running_deployments = _limit(_("running deployments"))
    max_real_deployments = _limit(_("real-money deployments"))
    max_symbols_per_backtest = _limit(_("symbols per backtest"))
    max_symbols_per_deployment = _limit(_("symbols per deployment"))
    max_concurrent_backtests = _limit(_("concurrent backtests"))
    max_sweep_cells = _limit(_("sweep cells"))
    max_backtests_per_day = _limit(_("backtests per day"))
    api_requests_per_minute = _limit(_("API requests per minute"))
    telegram_commands_per_day = _limit(_("Telegram commands per day"))
    invite_reward_days = models.PositiveSmallIntegerField(
        _("invite reward days"), default=0,
        help_text=_("Days of this plan an invite gives both people (0: this plan is not an invite reward)."))

    class Meta:
        ordering = ["rank"]
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                               name="plan_one_default")]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self) -> str:
        return self.name


class SubscriptionSource(models.TextChoices):
    DEFAULT = "default", _("Default")
    TRIAL = "trial", _("Trial")
    COUPON = "coupon", _("Coupon")
    ADMIN = "admin", _("Granted by an admin")
    INVITE = "invite", _("Invite reward")


class SubscriptionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Starts later")  # e.g. the rest of a plan, after an upgrade ends
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


class Subscription(BaseModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    source = models.CharField(_("source"), max_length=10, choices=SubscriptionSource.choices)
    status = models.CharField(_("status"), max_length=10, choices=SubscriptionStatus.choices,
                              default=SubscriptionStatus.ACTIVE, db_index=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True, help_text=_("Empty: no end."))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    warned_7d_at = models.DateTimeField(null=True, blank=True)
    warned_1d_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user"], condition=models.Q(status="active"),
                                               name="subscription_one_active_per_user")]
        indexes = [models.Index(fields=["status", "ends_at"], name="subscription_by_end")]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.plan_id} ({self.status})"


class CouponKind(models.TextChoices):
    TRIAL_DAYS = "trial_days", _("Free days of a plan (for users on Free)")
    UPGRADE = "upgrade", _("Upgrade to a higher plan for a period")


class Coupon(BaseModel):
    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=CouponKind.choices)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("plan given"))
    days = models.PositiveSmallIntegerField(_("days"))
    campaign = models.CharField(_("campaign"), max_length=60, blank=True, db_index=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(_("most redemptions in total"), null=True, blank=True,
                                                  help_text=_("Empty: no cap."))
    max_per_user = models.PositiveSmallIntegerField(_("most redemptions per user"), default=1)
    new_users_only = models.BooleanField(_("new users only"), default=False)
    new_user_days = models.PositiveSmallIntegerField(
        _("new user window (days)"), default=30,
        help_text=_("With 'new users only': signed up within this many days and never subscribed."))
    from_plans = models.ManyToManyField(Plan, blank=True, related_name="+", verbose_name=_("redeemable from plans"),
                                        help_text=_("Empty: from any plan below the one it gives."))
    active = models.BooleanField(_("active"), default=True)
    redeemed_count = models.PositiveIntegerField(_("redeemed"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(max_redemptions__isnull=True)
                                   | models.Q(redeemed_count__lte=models.F("max_redemptions")),
                                   name="coupon_never_over_redeemed"),
            models.CheckConstraint(condition=models.Q(days__gt=0), name="coupon_days_positive"),
        ]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")

    def __str__(self) -> str:
        return self.code


class Redemption(models.Model):
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coupon_redemptions")
    subscription = models.OneToOneField(Subscription, on_delete=models.PROTECT, related_name="redemption")
    redeemed_at = models.DateTimeField(_("redeemed"), db_index=True)

    class Meta:
        ordering = ["-redeemed_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")

    def __str__(self) -> str:
        return f"{self.coupon_id} by {self.user_id}"
