"""A deployment puts one of a user's strategies to work on one broker account (paper or real).

Rows:

- ``Deployment``: the strategy, the account, the capital allotted (its bucket, KRW), the universe,
  when it acts (``timing``), the snapshot of the strategy's type, parameters and risk rules taken
  when it starts (a later edit of the strategy changes nothing until the user applies it, audited),
  and its state (draft → running ⇄ paused → stopped; halted by a rule or an error, with a reason).
- ``SymbolClaim``: one owner per (account, symbol): the deployment that may hold and trade that
  symbol in that account. Unique in the database, so two deployments can never both own it.
- ``DeploymentSignal``: one row per (deployment, decision time, symbol, side): what the strategy
  wanted, what the guard decided (passed, trimmed, blocked, with its code and message) and the order
  it became. The unique key makes the runner idempotent: a rerun, a duplicate beat or a restart
  finds the row and never orders twice (the order's ``intent_id`` is derived from the same key).
- ``DeploymentDay``: the daily summary (equity of the bucket, cash, P&L, counts): the equity curve.
- ``RiskSettings``: a user's own spread rules across all their deployments (share of equity in one
  symbol and in one sector, number of symbols, a daily loss limit that pauses every deployment).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=4, **kwargs)


def _quantity(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=24, decimal_places=8, **kwargs)


class DeploymentState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("Stopped")
    HALTED = "halted", _("Halted")


class DeploymentTiming(models.TextChoices):
    OPEN = "open", _("At the open (pre-open auction 08:30-09:00)")
    CLOSE = "close", _("At the close (closing auction 15:20-15:30)")
    INTERVAL = "interval", _("Every N minutes in the session")


ACTIVE_STATES = (DeploymentState.RUNNING, DeploymentState.PAUSED)


class Deployment(BaseModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deployments")
    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.PROTECT, related_name="deployments")
    account = models.ForeignKey("trading.BrokerAccount", on_delete=models.PROTECT, related_name="deployments")
    name = models.CharField(_("name"), max_length=100)
    capital = models.DecimalField(_("capital (KRW)"), max_digits=18, decimal_places=0,
                                  help_text=_("The deployment spends only this allotment of the account."))
    capital_limit = models.DecimalField(
        _("capital now (KRW)"), max_digits=18, decimal_places=0, null=True, blank=True, editable=False,
        help_text=_("Set when the account's equity fell below its deployments' buckets: each shrank in proportion, "
                    "never below what it holds."))
    symbols = models.JSONField(_("symbols"), default=list, blank=True,
                               help_text=_("Codes it trades (from the strategy's universe when it starts)."))
    watchlist = models.ForeignKey("strategies.Watchlist", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="deployments")
    timing = models.CharField(_("when it acts"), max_length=10, choices=DeploymentTiming.choices,
                              default=DeploymentTiming.OPEN)
    interval_minutes = models.PositiveSmallIntegerField(_("every (minutes)"), null=True, blank=True)
    # snapshot of the strategy when started (or when the user applied a change): what the runner uses
    strategy_type = models.CharField(max_length=50, blank=True, editable=False)
    params = models.JSONField(default=dict, blank=True, editable=False)
    risk = models.JSONField(default=dict, blank=True, editable=False,
                            help_text=_("The strategy's sizing and risk rules (engine options)."))
    state = models.CharField(_("state"), max_length=10, choices=DeploymentState.choices,
                             default=DeploymentState.DRAFT, db_index=True)
    state_code = models.CharField(max_length=32, blank=True)
    state_reason = models.CharField(max_length=300, blank=True)
    real_money = models.BooleanField(default=False, editable=False,
                                     help_text=_("Trades a real (not mock, not paper) broker account."))
    confirmed_real_at = models.DateTimeField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    last_decision_at = models.DateTimeField(null=True, blank=True)
    data_note = models.CharField(max_length=300, blank=True,
                                 help_text=_("Why the runner did not act on the last decision (stale data...)."))
    # the demo: a paper deployment replayed over past bars on the simulated clock
    replay = models.BooleanField(default=False)
    replay_start = models.DateField(null=True, blank=True)
    replay_end = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = _("deployment")
        verbose_name_plural = _("deployments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="deployment_name_unique_per_owner"),
            models.CheckConstraint(condition=Q(capital__gt=0), name="deployment_capital_positive"),
            models.CheckConstraint(condition=~Q(timing="interval") | Q(interval_minutes__gte=1),
                                   name="deployment_interval_needs_minutes"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


class SymbolClaim(models.Model):
    """The one deployment that owns ``symbol`` in ``account`` (held or traded by no other)."""

    account = models.ForeignKey("trading.BrokerAccount", on_delete=models.CASCADE, related_name="symbol_claims")
    symbol = models.CharField(max_length=20)
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="claims")
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("symbol claim")
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="symbol_claim_one_owner")]

    def __str__(self) -> str:
        return f"{self.symbol} → {self.deployment_id}"


class SignalReason(models.TextChoices):
    ENTRY = "entry", _("Entry signal")
    EXIT = "exit", _("Exit signal")
    STOP_LOSS = "stop_loss", _("Stop loss")
    TAKE_PROFIT = "take_profit", _("Take profit")
    TRAILING_STOP = "trailing_stop", _("Trailing stop")
    MAX_HOLDING = "max_holding", _("Held the maximum days")
    CLOSE_ALL = "close_all", _("Closing on stop")


class Verdict(models.TextChoices):
    PASSED = "passed", _("Passed")
    TRIMMED = "trimmed", _("Trimmed")
    BLOCKED = "blocked", _("Blocked")


class SignalOutcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    ORDERED = "ordered", _("Ordered")
    REFUSED = "refused", _("Refused by the order checks")
    BLOCKED = "blocked", _("Blocked by the guard")
    WAITING = "waiting", _("Waiting (cash from sells)")
    SKIPPED = "skipped", _("Nothing to do")


class DeploymentSignal(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="signals")
    decided_at = models.DateTimeField(db_index=True, help_text=_("The decision time it belongs to."))
    bar_date = models.DateField(null=True, blank=True, help_text=_("The last completed bar it was decided on."))
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4)
    reason = models.CharField(max_length=16, choices=SignalReason.choices)
    price = _money(null=True, blank=True, help_text=_("The price it was sized with."))
    quantity_wanted = _quantity(default=Decimal(0))
    quantity = _quantity(default=Decimal(0))
    verdict = models.CharField(max_length=8, choices=Verdict.choices, default=Verdict.PASSED)
    guard_code = models.CharField(max_length=32, blank=True)
    guard_message = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=8, choices=SignalOutcome.choices, default=SignalOutcome.PENDING)
    outcome_message = models.CharField(max_length=300, blank=True)
    order = models.ForeignKey("trading.Order", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="deployment_signals")
    intent_id = models.UUIDField(unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("deployment signal")
        ordering = ["-decided_at", "symbol", "side"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "decided_at", "symbol", "side"],
                                    name="deployment_signal_once"),
        ]

    def __str__(self) -> str:
        return f"{self.deployment_id} {self.decided_at:%Y-%m-%d %H:%M} {self.side} {self.symbol}"


INTENT_NAMESPACE = uuid.UUID("6f1d2c3e-5b7a-4e8f-9a0b-1c2d3e4f5a6b")


def signal_intent_id(deployment_id: int, decided_at, symbol: str, side: str) -> uuid.UUID:
    """The order intent id of one (deployment, decision time, symbol, side): the same every time."""
    return uuid.uuid5(INTENT_NAMESPACE, f"{deployment_id}|{decided_at.isoformat()}|{symbol}|{side}")


class DeploymentDay(models.Model):
    """A deployment's day: its bucket's equity at the close, cash, P&L and what happened."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="days")
    day = models.DateField()
    equity = _money()
    cash = _money()
    invested = _money(default=Decimal(0))
    pnl = _money(default=Decimal(0))
    positions = models.PositiveIntegerField(default=0)
    signals = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    fills = models.PositiveIntegerField(default=0)
    blocked = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("deployment day")
        ordering = ["deployment", "day"]
        constraints = [models.UniqueConstraint(fields=["deployment", "day"], name="deployment_day_once")]


class RiskSettings(BaseModel):
    """A user's spread rules over all their deployments (empty: no limit of that kind)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_settings")
    max_symbol_share = models.DecimalField(_("most of equity in one symbol (%)"), max_digits=5, decimal_places=2,
                                           null=True, blank=True)
    max_sector_share = models.DecimalField(_("most of equity in one sector (%)"), max_digits=5, decimal_places=2,
                                           null=True, blank=True)
    max_symbols = models.PositiveSmallIntegerField(_("most symbols held"), null=True, blank=True)
    daily_loss_limit = models.DecimalField(_("daily loss limit (percent of equity)"), max_digits=5, decimal_places=2,
                                           null=True, blank=True,
                                           help_text=_("A day's loss past it pauses every deployment."))

    class Meta:
        verbose_name = _("risk settings")
        verbose_name_plural = _("risk settings")


__all__ = [
    "ACTIVE_STATES", "Deployment", "DeploymentDay", "DeploymentSignal", "DeploymentState", "DeploymentTiming",
    "RiskSettings", "SignalOutcome", "SignalReason", "SymbolClaim", "Verdict", "signal_intent_id",
]
