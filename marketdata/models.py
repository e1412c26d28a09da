"""The instrument master: every tradable KRX stock and KRW crypto pair.

Prices themselves live in the Parquet bar store (marketdata/store.py), not here.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _, pgettext_lazy

from core.models import BaseModel


class Market(models.TextChoices):
    KOSPI = "KOSPI", "KOSPI"
    KOSDAQ = "KOSDAQ", "KOSDAQ"
    KONEX = "KONEX", "KONEX"
    CRYPTO = "CRYPTO", _("Crypto")


class ListingStatus(models.TextChoices):
    LISTED = "listed", _("Listed")
    SUSPENDED = "suspended", _("Suspended")
    DELISTED = "delisted", _("Delisted")


class TickRegime(models.TextChoices):
    # KRX stock price bands (2023 reform, see broker-apis.md); crypto follows Upbit's KRW table.
    KRX_STOCK = "krx_stock", _("KRX stock")
    KRX_ETF = "krx_etf", _("KRX ETF/ETN")
    UPBIT_KRW = "upbit_krw", _("Upbit KRW market")


class Instrument(BaseModel):
    code = models.CharField(pgettext_lazy("instrument", "code"), max_length=20, unique=True)  # 005930, 0001A0, Q520057, KRW-BTC
    name = models.CharField(pgettext_lazy("instrument", "name"), max_length=100, db_index=True)  # Korean name
    name_en = models.CharField(_("English name"), max_length=150, blank=True, db_index=True)
    market = models.CharField(_("market"), max_length=10, choices=Market.choices, db_index=True)
    sector = models.CharField(_("sector"), max_length=100, blank=True, db_index=True)
    status = models.CharField(
        _("listing status"), max_length=10, choices=ListingStatus.choices, default=ListingStatus.LISTED, db_index=True
    )
    listed_on = models.DateField(_("listed on"), null=True, blank=True)
    suspended_on = models.DateField(_("suspended on"), null=True, blank=True)
    delisted_on = models.DateField(_("delisted on"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="KRW")
    tick_regime = models.CharField(
        _("tick-size regime"), max_length=12, choices=TickRegime.choices, default=TickRegime.KRX_STOCK
    )
    # the quantity step of an order: 1 share for stocks, 0.00000001 for Upbit's KRW pairs
    lot_size = models.DecimalField(_("lot size"), max_digits=20, decimal_places=8, default=1)
    # the smallest order value in KRW the exchange accepts (Upbit's KRW market: 5,000; KRX: none)
    min_order_value = models.DecimalField(_("minimum order value"), max_digits=14, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(lot_size__gt=0), name="instrument_lot_size_positive"),
            models.CheckConstraint(condition=models.Q(min_order_value__gte=0),
                                   name="instrument_min_order_value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class BarIngest(models.Model):
    """One scheduled refresh of daily bars after the close (``marketdata.ingest``): which symbols it
    was asked for, which it updated and from which provider, which it missed and why."""

    day = models.DateField(_("trading day"), db_index=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    symbols = models.PositiveIntegerField(_("symbols asked"), default=0)
    updated = models.PositiveIntegerField(_("symbols updated"), default=0)
    providers = models.JSONField(_("provider per symbol"), default=dict, blank=True)
    missing = models.JSONField(_("symbols missed, with the reason"), default=dict, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("bar ingest")
        verbose_name_plural = _("bar ingests")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.day} {self.updated}/{self.symbols}"
