"""Rows of the paper broker's book: one ``PaperBook`` per paper account (its cash, the row every write
locks), its orders, fills and positions. Every process reads and writes the same rows, so there is
one book however many web and worker processes run.

Money is ``Decimal`` with four decimals (KRX amounts are whole won; crypto keeps fractions of a
won), quantities and prices with eight (Upbit's 1e-8 lots).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel

__all__ = ["PaperBook", "PaperFill", "PaperOrder", "PaperOrderStatus", "PaperPosition"]

ZERO = Decimal(0)


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=4, **kwargs)


def _quantity(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=20, decimal_places=8, **kwargs)


class PaperBook(BaseModel):
    """A paper account's cash. ``cash`` counts every fill at once (the D+2 figure); sells' proceeds
    are usable for buys at once, like the brokers' re-use amount."""

    account = models.OneToOneField("trading.BrokerAccount", on_delete=models.CASCADE, related_name="paper_book")
    initial_cash = _money()
    cash = _money()
    next_order_no = models.PositiveIntegerField(default=1)
    next_fill_no = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(cash__gte=0), name="paper_book_cash_not_negative")]
        verbose_name = _("paper book")
        verbose_name_plural = _("paper books")

    def __str__(self) -> str:
        return f"paper book of account {self.account_id}"


class PaperOrderStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FILLED = "filled", _("Filled")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired at the close")
    REVISED = "revised", _("Replaced by a revision")


class PaperOrder(BaseModel):
    """One order. ``quantity`` = ``filled_quantity`` + ``cancelled_quantity`` + what is still open;
    ``reserved_cash`` is held for the open part of a buy (price × quantity + commission)."""

    book = models.ForeignKey(PaperBook, on_delete=models.CASCADE, related_name="orders")
    order_no = models.CharField(max_length=10)
    original_order_no = models.CharField(max_length=10, blank=True)  # the order a revision replaced
    symbol = models.CharField(max_length=20)
    market = models.CharField(max_length=10)
    side = models.CharField(max_length=4)  # trading.brokers.base.Side
    order_type = models.CharField(max_length=12)  # trading.brokers.base.OrderType
    quantity = _quantity()
    price = _quantity(null=True, blank=True)  # None for market orders
    # the price a buy's open part is held at: its limit, or for a market order the upper price limit
    # (KRX, as the brokers count a market buy) or the newest price (crypto)
    reserve_price = _quantity(null=True, blank=True)
    filled_quantity = _quantity(default=ZERO)
    filled_amount = _money(default=ZERO)
    commission = _money(default=ZERO)
    tax = _money(default=ZERO)
    cancelled_quantity = _quantity(default=ZERO)
    reserved_cash = _money(default=ZERO)
    status = models.CharField(max_length=10, choices=PaperOrderStatus.choices, default=PaperOrderStatus.OPEN)
    # waits for a call auction (placed in the pre-open or closing auction): priced by the auction
    auction = models.BooleanField(default=False)
    order_day = models.DateField()  # Seoul date of placement
    placed_at = models.DateTimeField()
    last_price_at = models.DateTimeField(null=True, blank=True)  # the newest price this order has seen
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["book", "order_no"]
        constraints = [
            models.UniqueConstraint(fields=["book", "order_no"], name="paper_order_no_unique_per_book"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="paper_order_quantity_positive"),
            models.CheckConstraint(condition=models.Q(reserved_cash__gte=0), name="paper_order_reserved_not_negative"),
        ]
        indexes = [
            models.Index(fields=["status", "symbol"], name="paper_order_open_by_symbol"),
            models.Index(fields=["book", "order_day"], name="paper_order_by_day"),
        ]
        verbose_name = _("paper order")
        verbose_name_plural = _("paper orders")

    def __str__(self) -> str:
        return f"paper order {self.order_no} {self.side} {self.quantity} {self.symbol}"

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity - self.cancelled_quantity

    @property
    def is_open(self) -> bool:
        return self.status == PaperOrderStatus.OPEN

    @property
    def average_price(self) -> Decimal:
        return self.filled_amount / self.filled_quantity if self.filled_quantity else ZERO


class PaperFill(models.Model):
    """One fill. ``net_cash`` is what it did to the cash (negative for buys); ``settles_on`` the
    day it settles (T+2 on KRX, the same day for crypto)."""

    book = models.ForeignKey(PaperBook, on_delete=models.CASCADE, related_name="fills")
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="fills")
    fill_no = models.CharField(max_length=10)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4)
    quantity = _quantity()
    price = _quantity()
    value = _money()
    commission = _money()
    tax = _money()
    net_cash = _money()
    realized_pnl = _money(null=True, blank=True)  # sells: proceeds after costs less the average cost
    trade_day = models.DateField()
    settles_on = models.DateField()
    filled_at = models.DateTimeField()

    class Meta:
        ordering = ["book", "fill_no"]
        constraints = [models.UniqueConstraint(fields=["book", "fill_no"], name="paper_fill_no_unique_per_book")]
        indexes = [
            models.Index(fields=["book", "trade_day"], name="paper_fill_by_day"),
            models.Index(fields=["book", "settles_on"], name="paper_fill_by_settlement"),
        ]
        verbose_name = _("paper fill")
        verbose_name_plural = _("paper fills")

    def __str__(self) -> str:
        return f"paper fill {self.fill_no} {self.side} {self.quantity} {self.symbol} @ {self.price}"


class PaperPosition(BaseModel):
    """A holding: ``cost`` is what the held quantity was bought for (fill values, no commission,
    like the brokers' purchase amount); ``realized_pnl`` sums the sells' realised profit."""

    book = models.ForeignKey(PaperBook, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=20)
    market = models.CharField(max_length=10)
    quantity = _quantity(default=ZERO)
    cost = _money(default=ZERO)
    realized_pnl = _money(default=ZERO)

    class Meta:
        ordering = ["book", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["book", "symbol"], name="paper_position_unique_per_book"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="paper_position_not_short"),
        ]
        verbose_name = _("paper position")
        verbose_name_plural = _("paper positions")

    def __str__(self) -> str:
        return f"paper position {self.quantity} {self.symbol}"

    @property
    def average_price(self) -> Decimal:
        return self.cost / self.quantity if self.quantity else ZERO
