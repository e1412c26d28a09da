"""Operators' system settings: one row (pk 1), cached, changed only through
``core.system.services.system_settings_update`` (audited). Read with ``core.system.selectors``."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.core.validators import MinValueValidator
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

CACHE_KEY = "core:system_settings:v1"
SINGLETON_PK = 1


class SystemSettings(models.Model):
    """The platform's switches. Defaults are an open platform: everything allowed, no maintenance."""

    maintenance_mode = models.BooleanField(
        _("maintenance mode"), default=False,
        help_text=_("A banner on every page, pages read-only for users, no new orders (the global kill switch)."))
    maintenance_message = models.CharField(_("maintenance message"), max_length=300, blank=True)
    # whether turning maintenance on pulled the global kill switch (so turning it off releases only that pull)
    maintenance_pulled_kill_switch = models.BooleanField(
        _("maintenance pulled the global kill switch"), default=False, editable=False,
        help_text=_("Off while maintenance is on: the switch was already pulled for another reason and stays pulled after."))
    signup_open = models.BooleanField(_("sign-up open"), default=True)
    invites_open = models.BooleanField(_("invites open"), default=True,
                                       help_text=_("Off: invite codes are refused at sign-up."))
    live_trading_allowed = models.BooleanField(
        _("live trading allowed"), default=True,
        help_text=_("Off: deployments on a broker account (KIS, Kiwoom) cannot start or resume; paper ones can."))
    real_money_allowed = models.BooleanField(
        _("real-money trading allowed"), default=True,
        help_text=_("Off: deployments on a real-money account cannot start or resume."))
    backtest_commission_pct = models.DecimalField(
        _("default commission of new backtests (%)"), max_digits=8, decimal_places=4, default=Decimal("0.015"),
        validators=[MinValueValidator(Decimal(0))])
    backtest_slippage_bps = models.DecimalField(
        _("default slippage of new backtests (bp)"), max_digits=7, decimal_places=2, default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)

    class Meta:
        verbose_name = _("system settings")
        verbose_name_plural = _("system settings")

    def __str__(self) -> str:
        return str(_("System settings"))

    def save(self, *args, **kwargs) -> None:
        self.pk = SINGLETON_PK
        super().save(*args, **kwargs)
        # now for this process, and again once committed (another process may have cached the old row meanwhile)
        cache.delete(CACHE_KEY)
        transaction.on_commit(lambda: cache.delete(CACHE_KEY))
