"""The order ledger: orders written before anything is sent, their timeline, fills and positions.

- ``Order``: one intent to trade (``intent_id``, unique) and what became of it at the broker. Its
  ``state`` only moves along ``trading.orders.states.TRANSITIONS`` (through the services). The
  broker's order number is unique per account and trading day (KIS and Kiwoom number each day's
  orders afresh).
- ``OrderEvent``: the timeline, one row per transition (and per note, such as a cancel waiting for
  an unknown order to be resolved).
- ``Fill``: unique per (order, ``fill_key``); KIS gives no per-fill id, so the key is derived from
  the cumulative quantity (``trading.orders.fills``): a replayed report adds nothing.
- ``Position``: per (account, symbol), computed from fills, beside the broker's own figures of the
  last reconciliation (``mismatch`` when the quantities differ; such a position is not traded on).
- ``Reconciliation``: per account, when the ledger last agreed with the broker and what it found.

Money is ``Decimal`` with four decimals, quantities and prices with eight (as the paper book).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _, pgettext_lazy

from core.models import BaseModel
from trading.orders.states import CLOSED, FINAL, OPEN, UNRESOLVED

__all__ = ["Fill", "Order", "OrderEvent", "OrderSide", "OrderSource", "OrderState", "OrderTypeChoice", "Position",
           "Reconciliation"]

ZERO = Decimal(0)


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=4, **kwargs)


def _quantity(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=8, **kwargs)


class OrderState(models.TextChoices):
    NEW = "new", _("New")
    SUBMITTING = "submitting", _("Sending")
    ACCEPTED = "accepted", _("Accepted")
    PARTIALLY_FILLED = "partially_filled", _("Partially filled")
    FILLED = "filled", _("Filled")
    CANCEL_REQUESTED = "cancel_requested", _("Cancel requested")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    REJECTED = "rejected", _("Rejected")
    UNKNOWN = "unknown", _("Checking with the broker")
    NOT_PLACED = "not_placed", _("Not placed")


class OrderSource(models.TextChoices):
    MANUAL = "manual", _("Manual")
    STRATEGY = "strategy", _("Strategy")
    ADMIN = "admin", _("Admin")
    EXTERNAL = "external", _("Outside the platform (HTS/MTS)")


class OrderSide(models.TextChoices):
    BUY = "buy", _("Buy")
    SELL = "sell", _("Sell")


class OrderTypeChoice(models.TextChoices):
    LIMIT = "limit", pgettext_lazy("order type", "Limit")
    MARKET = "market", pgettext_lazy("order type", "Market")
    IOC_LIMIT = "ioc_limit", _("Limit, IOC")
    FOK_LIMIT = "fok_limit", _("Limit, FOK")
    IOC_MARKET = "ioc_market", _("Market, IOC")
    FOK_MARKET = "fok_market", _("Market, FOK")


class Order(BaseModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    account = models.ForeignKey("trading.BrokerAccount", on_delete=models.CASCADE, related_name="orders")
    source = models.CharField(max_length=10, choices=OrderSource.choices, default=OrderSource.MANUAL)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    quantity = _quantity()
    order_type = models.CharField(max_length=12, choices=OrderTypeChoice.choices, default=OrderTypeChoice.LIMIT)
    price = _quantity(null=True, blank=True, help_text=_("Limit price; empty for market orders."))
    intent_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(max_length=16, choices=OrderState.choices, default=OrderState.NEW, db_index=True)
    # the broker's numbers once known (KIS ODNO + KRX_FWDG_ORD_ORGNO, Kiwoom ord_no, paper order_no)
    broker_order_no = models.CharField(max_length=20, blank=True)
    broker_org_no = models.CharField(max_length=10, blank=True)
    order_day = models.DateField(null=True, blank=True, help_text=_("Trading day (Seoul) it was sent on."))
    reject_code = models.CharField(max_length=32, blank=True)
    reject_reason = models.CharField(max_length=300, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    unknown_since = models.DateTimeField(null=True, blank=True)
    missed_lookups = models.PositiveSmallIntegerField(default=0)
    filled_quantity = _quantity(default=ZERO)
    filled_amount = _money(default=ZERO)
    average_fill_price = _quantity(null=True, blank=True)
    cancelled_quantity = _quantity(default=ZERO)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_sent_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    external = models.BooleanField(default=False, db_index=True)
    # A revision (new price, and quantity) asked of an open order: sent by its job, and at the broker
    # it becomes a new order number for the remaining quantity: ``replaces`` links that new order
    # to this one (which ends cancelled for what was moved).
    revise_price = _quantity(null=True, blank=True)
    revise_quantity = _quantity(null=True, blank=True)
    revise_requested_at = models.DateTimeField(null=True, blank=True)
    revise_sent_at = models.DateTimeField(null=True, blank=True)
    replaces = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="replacements")
    flag = models.CharField(max_length=300, blank=True, help_text=_("Why an admin should look at this order."))

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "order_day", "broker_order_no"],
                                    condition=~models.Q(broker_order_no=""), name="order_broker_no_unique_per_day"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(filled_quantity__gte=0, filled_quantity__lte=models.F("quantity")),
                name="order_never_overfilled"),
            models.CheckConstraint(condition=models.Q(external=True, source="external")
                                   | (models.Q(external=False) & ~models.Q(source="external")),
                                   name="order_external_is_its_source"),
        ]
        indexes = [
            models.Index(fields=["account", "state"], name="order_by_account_state"),
            models.Index(fields=["owner", "-created_at"], name="order_by_owner_newest"),
        ]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self) -> str:
        return f"order {self.pk} {self.side} {self.quantity.normalize():f} {self.symbol} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def is_unresolved(self) -> bool:
        return self.state in UNRESOLVED

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED

    @property
    def is_final(self) -> bool:
        return self.state in FINAL

    @property
    def remaining_quantity(self) -> Decimal:
        return max(self.quantity - self.filled_quantity - self.cancelled_quantity, ZERO)


class OrderEvent(models.Model):
    """One step of an order's timeline: ``from_state`` → ``to_state`` (equal for a note), why, by whom."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    code = models.CharField(max_length=32, blank=True)
    why = models.CharField(max_length=300, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["order", "at", "id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")

    def __str__(self) -> str:
        return f"order {self.order_id}: {self.from_state or '∅'} → {self.to_state}"


class FillSource(models.TextChoices):
    LISTING = "listing", _("Broker's order listing")
    NOTICE = "notice", _("Execution notice")


class Fill(models.Model):
    """One fill of an order, derived from the broker's cumulative figures (``trading.orders.fills``).
    ``costs_estimated``: commission and tax computed by the platform (the broker did not report them)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    account = models.ForeignKey("trading.BrokerAccount", on_delete=models.CASCADE, related_name="order_fills")
    fill_key = models.CharField(max_length=64)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4, choices=OrderSide.choices)
    quantity = _quantity()
    price = _quantity()
    value = _money()
    commission = _money(default=ZERO)
    tax = _money(default=ZERO)
    costs_estimated = models.BooleanField(default=True)
    cumulative_quantity = _quantity()
    source = models.CharField(max_length=10, choices=FillSource.choices, default=FillSource.LISTING)
    filled_at = models.DateTimeField(db_index=True, help_text=_("When the platform learned of it."))

    class Meta:
        ordering = ["filled_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "fill_key"], name="fill_unique_per_order_key"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="fill_quantity_positive"),
        ]
        indexes = [models.Index(fields=["account", "filled_at"], name="fill_by_account_time")]
        verbose_name = _("fill")
        verbose_name_plural = _("fills")

    def __str__(self) -> str:
        return f"fill {self.side} {self.quantity.normalize():f} {self.symbol} @ {self.price.normalize():f}"


class Position(BaseModel):
    """A holding computed from fills (``trading.orders.fills.Holding`` explains cost and P&L), with
    what the broker's balance said at the last reconciliation."""

    account = models.ForeignKey("trading.BrokerAccount", on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=20)
    quantity = _quantity(default=ZERO)
    cost = _money(default=ZERO)
    realized_pnl = _money(default=ZERO)
    commission = _money(default=ZERO)
    tax = _money(default=ZERO)
    # held before the ledger knew the account (adopted from the broker's balance, once)
    opening_quantity = _quantity(default=ZERO)
    broker_quantity = _quantity(null=True, blank=True)
    broker_average_price = _quantity(null=True, blank=True)
    broker_checked_at = models.DateTimeField(null=True, blank=True)
    mismatch = models.BooleanField(default=False, db_index=True)
    mismatch_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["account", "symbol"]
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="position_unique_per_account")]
        verbose_name = _("position")
        verbose_name_plural = _("positions")

    def __str__(self) -> str:
        return f"position {self.quantity.normalize():f} {self.symbol}"

    @property
    def average_cost(self) -> Decimal:
        return self.cost / self.quantity if self.quantity > 0 else ZERO


class Reconciliation(models.Model):
    """Per account: the last reconciliation with the broker (the admin's status column)."""

    account = models.OneToOneField("trading.BrokerAccount", on_delete=models.CASCADE,
                                   related_name="order_reconciliation")
    opening_adopted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    orders_listed = models.PositiveIntegerField(default=0)
    external_adopted = models.PositiveIntegerField(default=0)
    mismatches = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")

    def __str__(self) -> str:
        return f"reconciliation of account {self.account_id}"


class KillSwitchScope(models.TextChoices):
    ACCOUNT = "account", _("Broker account")
    USER = "user", _("User")
    GLOBAL = "global", _("Whole platform")


class KillSwitch(BaseModel):
    """A kill switch: while ``on``, no new order of its scope (a broker account, every account of a
    user, the whole platform) is accepted or sent. One row per target, pulled and released again
    (``trading.killswitch``); the last pull and release are kept here, every one in the audit log."""

    scope = models.CharField(max_length=8, choices=KillSwitchScope.choices)
    account = models.ForeignKey("trading.BrokerAccount", on_delete=models.CASCADE, null=True, blank=True,
                                related_name="kill_switches")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="kill_switches")
    on = models.BooleanField(default=False, db_index=True)
    reason = models.CharField(max_length=300, blank=True)
    cancel_open_orders = models.BooleanField(default=False)
    pulled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="+")
    pulled_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account"], condition=models.Q(scope="account"),
                                    name="kill_switch_one_per_account"),
            models.UniqueConstraint(fields=["user"], condition=models.Q(scope="user"),
                                    name="kill_switch_one_per_user"),
            models.UniqueConstraint(fields=["scope"], condition=models.Q(scope="global"),
                                    name="kill_switch_one_global"),
            models.CheckConstraint(
                condition=models.Q(scope="account", account__isnull=False, user__isnull=True)
                | models.Q(scope="user", account__isnull=True, user__isnull=False)
                | models.Q(scope="global", account__isnull=True, user__isnull=True),
                name="kill_switch_target_matches_scope"),
        ]
        verbose_name = _("kill switch")
        verbose_name_plural = _("kill switches")

    def __str__(self) -> str:
        target = {"account": f" account {self.account_id}", "user": f" user {self.user_id}"}.get(self.scope, "")
        return f"kill switch {self.scope}{target} ({'on' if self.on else 'off'})"


__all__ += ["KillSwitch", "KillSwitchScope"]
