"""Engine settings: capital, costs, fill timing, accounts, sizing and risk rules."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from backtests.engine.costs import Costs

Sizing = Literal["all_in", "equal_weight"] | tuple[Literal["fixed_krw", "pct_equity"], float]
FILLS = ("next_open", "close")
ACCOUNTS = ("independent", "shared")


@dataclass(frozen=True)
class EngineConfig:
    """How a backtest trades.

    - ``cash``: starting capital in KRW (per symbol with ``accounts="independent"``, in total with
      ``"shared"``).
    - ``fill``: ``"next_open"`` (a signal on bar t's close fills at the symbol's next bar's open) or
      ``"close"`` (at bar t's close).
    - ``accounts``: ``"shared"`` (one cash balance for the universe: the default for a strategy) or
      ``"independent"`` (each symbol is its own account with the full ``cash``).
    - ``sizing``: ``"all_in"`` (all the cash), ``"equal_weight"`` (equity / max_positions, or equity /
      number of symbols without max_positions; all-in per account when independent),
      ``("fixed_krw", N)`` (N KRW per position), ``("pct_equity", P)`` (fraction P of equity,
      0 < P <= 1). Every buy is capped by the cash available after costs.
    - ``max_positions``: open positions at most (shared accounts only), None for no limit.
    - ``stop_loss``, ``take_profit``, ``trailing_stop``: fractions (0.05 = 5 %), None for off.
    - ``max_holding_days``: exit at the close of the N-th bar of the symbol after the entry bar.
    - ``periods_per_year``: bars per year for annualised metrics (252 for KRX, 365 for crypto).
    - ``histogram_bins``: bins of the trade-return distribution.

    Raises ValueError with the field name for any out-of-range or contradictory value.
    """

    cash: float = 10_000_000.0
    costs: Costs = field(default_factory=Costs)
    fill: Literal["next_open", "close"] = "next_open"
    accounts: Literal["independent", "shared"] = "shared"
    sizing: Sizing = "all_in"
    max_positions: int | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    max_holding_days: int | None = None
    periods_per_year: int = 252
    histogram_bins: int = 20

    def __post_init__(self) -> None:
        if not _number(self.cash) or self.cash <= 0:
            raise ValueError(f"cash must be a positive number, got {self.cash!r}")
        if not isinstance(self.costs, Costs):
            raise ValueError("costs must be a Costs instance")
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {self.fill!r}")
        if self.accounts not in ACCOUNTS:
            raise ValueError(f"accounts must be one of {ACCOUNTS}, got {self.accounts!r}")
        self.sizing_code()  # validates
        for name in ("max_positions", "max_holding_days", "periods_per_year", "histogram_bins"):
            value = getattr(self, name)
            if value is None and name in ("max_positions", "max_holding_days"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("stop_loss", "trailing_stop"):
            value = getattr(self, name)
            if value is not None and (not _number(value) or not 0.0 < value < 1.0):
                raise ValueError(f"{name} must be a fraction between 0 and 1 (0.05 = 5 %), got {value!r}")
        if self.take_profit is not None and (not _number(self.take_profit) or self.take_profit <= 0):
            raise ValueError(f"take_profit must be a positive fraction (0.1 = 10 %), got {self.take_profit!r}")

    def sizing_code(self) -> tuple[int, float]:
        """``(kind, value)`` for the kernel: 0 all_in, 1 equal_weight, 2 fixed_krw, 3 pct_equity."""
        sizing = self.sizing
        if sizing == "all_in":
            return 0, 0.0
        if sizing == "equal_weight":
            return 1, 0.0
        if isinstance(sizing, tuple) and len(sizing) == 2 and _number(sizing[1]):
            kind, value = sizing
            if kind == "fixed_krw" and value > 0:
                return 2, float(value)
            if kind == "pct_equity" and 0 < value <= 1:
                return 3, float(value)
            if kind == "pct_equity":
                raise ValueError(f"pct_equity is a fraction of equity in (0, 1] (10 % is 0.1), got {value!r}")
            if kind == "fixed_krw":
                raise ValueError(f"fixed_krw must be a positive amount of KRW, got {value!r}")
        raise ValueError(
            f"sizing must be 'all_in', 'equal_weight', ('fixed_krw', N) or ('pct_equity', P), got {sizing!r}"
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
