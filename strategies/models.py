"""Strategy definitions: a type with validated parameters, a universe, and risk settings.

A ``Strategy`` belongs to one user. Its ``params`` are always the registry's typed, defaults-filled
dict (``strategies.signals.validate_params``); services keep them so. Its universe is either a list of
instruments or one of the owner's watchlists, never both, never empty. Risk settings are stored
the way a user types them (KRW, percent); ``engine_options()`` turns them into what
``backtests.engine.EngineConfig`` takes (fractions).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core import limits
from core.models import BaseModel
from marketdata.models import Instrument
from strategies import signals
from strategies.schema import type_label

UNKNOWN_STRATEGY_TYPE = _("Unknown strategy type: %(value)s")
SIZING_VALUE_REQUIRED = _("Enter the amount for this sizing.")
SIZING_VALUE_NOT_USED = _("Leave empty: this sizing takes no amount.")
PCT_EQUITY_RANGE = _("Enter a percentage above 0 and at most 100.")
PERCENT_OPEN_RANGE = _("Enter a percentage above 0 and below 100.")
MUST_BE_POSITIVE = _("Enter a number above 0.")
AT_LEAST_ONE = _("Enter 1 or more.")


def validate_strategy_type(value: str) -> None:
    """The type must be one the registry knows (not a fixed list frozen into a migration)."""
    if value not in signals.REGISTRY:
        raise ValidationError(UNKNOWN_STRATEGY_TYPE, params={"value": value}, code="unknown_strategy_type")


class Sizing(models.TextChoices):
    # The same four as backtests.engine.EngineConfig.sizing.
    ALL_IN = "all_in", _("All in (all available cash)")
    EQUAL_WEIGHT = "equal_weight", _("Equal weight across the universe")
    FIXED_KRW = "fixed_krw", _("Fixed KRW per position")
    PCT_EQUITY = "pct_equity", _("Percent of equity per position")


SIZINGS_WITH_VALUE = (Sizing.FIXED_KRW, Sizing.PCT_EQUITY)
# A strategy's sizing and risk settings: the fields ``Strategy.engine_options()`` reads.
RISK_FIELDS = ("sizing", "sizing_value", "max_positions", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct",
               "max_holding_days")


class Watchlist(BaseModel):
    """A named list of instruments a user keeps and can use as a strategy's universe."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=100)
    instruments = models.ManyToManyField(
        Instrument, related_name="watchlists", verbose_name=_("instruments"), blank=True
    )

    class Meta:
        verbose_name = _("watchlist")
        verbose_name_plural = _("watchlists")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="watchlist_name_unique_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    def codes(self) -> list[str]:
        """Instrument codes, sorted (uses prefetched instruments when there are)."""
        return sorted(instrument.code for instrument in self.instruments.all())


class Strategy(BaseModel):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="strategies", verbose_name=_("owner")
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    strategy_type = models.CharField(_("strategy type"), max_length=50, validators=[validate_strategy_type])
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # The universe: instruments, or a watchlist. RESTRICT (not SET_NULL): deleting a watchlist a
    # strategy trades must be refused, not leave the strategy silently trading nothing; unlike
    # PROTECT it still lets a user's account be deleted with their strategies and watchlists.
    instruments = models.ManyToManyField(
        Instrument, related_name="strategies", verbose_name=_("instruments"), blank=True
    )
    watchlist = models.ForeignKey(
        Watchlist, on_delete=models.RESTRICT, related_name="strategies", verbose_name=_("watchlist"),
        null=True, blank=True,
    )
    sizing = models.CharField(_("position sizing"), max_length=20, choices=Sizing.choices, default=Sizing.EQUAL_WEIGHT)
    sizing_value = models.DecimalField(
        _("sizing amount"), max_digits=15, decimal_places=2, null=True, blank=True, validators=[limits.validate_money],
        help_text=_("KRW per position for a fixed amount; percent of equity for a percentage."),
    )
    max_positions = models.PositiveIntegerField(
        _("max open positions"), null=True, blank=True,
        validators=[MinValueValidator(1, AT_LEAST_ONE), limits.validate_positions],
    )
    stop_loss_pct = models.DecimalField(_("stop loss (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    take_profit_pct = models.DecimalField(_("take profit (%)"), max_digits=7, decimal_places=2, null=True, blank=True)
    trailing_stop_pct = models.DecimalField(
        _("trailing stop (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    max_holding_days = models.PositiveIntegerField(
        _("max holding days"), null=True, blank=True,
        validators=[MinValueValidator(1, AT_LEAST_ONE), limits.validate_holding_days],
        help_text=_("Exit after this many bars of the symbol since the entry."),
    )
    preset_key = models.CharField(_("cloned from preset"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("strategy")
        verbose_name_plural = _("strategies")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="strategy_name_unique_per_owner"),
            models.CheckConstraint(
                condition=Q(stop_loss_pct__isnull=True) | Q(stop_loss_pct__gt=0, stop_loss_pct__lt=100),
                name="strategy_stop_loss_pct_range",
            ),
            models.CheckConstraint(
                condition=Q(trailing_stop_pct__isnull=True) | Q(trailing_stop_pct__gt=0, trailing_stop_pct__lt=100),
                name="strategy_trailing_stop_pct_range",
            ),
            models.CheckConstraint(
                condition=Q(take_profit_pct__isnull=True) | Q(take_profit_pct__gt=0),
                name="strategy_take_profit_pct_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_positions__isnull=True) | Q(max_positions__gte=1),
                name="strategy_max_positions_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_holding_days__isnull=True) | Q(max_holding_days__gte=1),
                name="strategy_max_holding_days_positive",
            ),
            models.CheckConstraint(
                condition=(
                    Q(sizing__in=["all_in", "equal_weight"], sizing_value__isnull=True)
                    # isnull=False spelled out: a CHECK on NULL > 0 is unknown, which passes.
                    | Q(sizing="fixed_krw", sizing_value__isnull=False, sizing_value__gt=0)
                    | Q(sizing="pct_equity", sizing_value__isnull=False, sizing_value__gt=0, sizing_value__lte=100)
                ),
                name="strategy_sizing_value_fits_sizing",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Risk settings, each error on its field (the check constraints, said in words)."""
        errors: dict[str, Any] = {}
        if not all(_is_number(getattr(self, name)) for name in _PERCENT_FIELDS):
            return  # a value that is not a number already has its error from clean_fields()
        if self.sizing in SIZINGS_WITH_VALUE and self.sizing_value is None:
            errors["sizing_value"] = SIZING_VALUE_REQUIRED
        elif self.sizing not in SIZINGS_WITH_VALUE and self.sizing_value is not None:
            errors["sizing_value"] = SIZING_VALUE_NOT_USED
        elif self.sizing == Sizing.FIXED_KRW and self.sizing_value <= 0:
            errors["sizing_value"] = MUST_BE_POSITIVE
        elif self.sizing == Sizing.PCT_EQUITY and not 0 < self.sizing_value <= 100:
            errors["sizing_value"] = PCT_EQUITY_RANGE
        for name in ("stop_loss_pct", "trailing_stop_pct"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 100:
                errors[name] = PERCENT_OPEN_RANGE
        if self.take_profit_pct is not None and self.take_profit_pct <= 0:
            errors["take_profit_pct"] = MUST_BE_POSITIVE
        if errors:
            raise ValidationError(errors)

    @property
    def strategy_type_label(self) -> str:
        """The type's label in the active language."""
        return type_label(self.strategy_type)

    def universe_codes(self) -> list[str]:
        """Codes of the instruments this strategy trades, sorted: the watchlist's when it has one."""
        if self.watchlist_id is not None:
            return self.watchlist.codes()
        return sorted(instrument.code for instrument in self.instruments.all())

    def engine_options(self) -> dict[str, Any]:
        """Keyword arguments for ``backtests.engine.EngineConfig`` from the sizing and risk settings.

        Returns ``sizing`` (``"all_in"``, ``"equal_weight"``, ``("fixed_krw", KRW)`` or
        ``("pct_equity", fraction)``), ``max_positions`` (int or None), ``stop_loss``, ``take_profit``,
        ``trailing_stop`` (fractions, 5 % is 0.05; None is off) and ``max_holding_days`` (int or None).
        Capital, costs, fills and accounts belong to the backtest, not to the strategy.
        """
        sizing: str | tuple[str, float] = str(self.sizing)
        if self.sizing == Sizing.FIXED_KRW:
            sizing = ("fixed_krw", float(self.sizing_value))
        elif self.sizing == Sizing.PCT_EQUITY:
            sizing = ("pct_equity", _fraction(self.sizing_value))
        return {
            "sizing": sizing,
            "max_positions": self.max_positions,
            "stop_loss": _fraction(self.stop_loss_pct),
            "take_profit": _fraction(self.take_profit_pct),
            "trailing_stop": _fraction(self.trailing_stop_pct),
            "max_holding_days": self.max_holding_days,
        }


_PERCENT_FIELDS = ("sizing_value", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct")


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, int | float | Decimal) and not isinstance(value, bool))


def _fraction(percent: Decimal | None) -> float | None:
    return None if percent is None else float(percent / 100)
