"""Trading costs: commission per side, Korean securities transaction tax on sells, slippage.

Pure core. The sell tax is a date-effective table per market, from
``shared/docs/broker-apis.md`` (D4, "Securities transaction tax + rural special tax, charged on the
sell amount only"): KOSPI and KOSDAQ 0.18 % in 2024, 0.15 % for sells from 2025-01-01, 0.20 % from
2026-01-01; KONEX 0.10 %; CRYPTO no tax. Dates before 2024 are not covered by that document: the
earliest documented rate (0.18 %) is applied to them. A fixed ``Costs.sell_tax`` overrides the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# market -> ((effective from, rate), ...) in ascending date order; the first rate also covers
# every earlier date (see the module docstring).
SELL_TAX_TABLE: dict[str, tuple[tuple[str, float], ...]] = {
    "KOSPI": (("2024-01-01", 0.0018), ("2025-01-01", 0.0015), ("2026-01-01", 0.0020)),
    "KOSDAQ": (("2024-01-01", 0.0018), ("2025-01-01", 0.0015), ("2026-01-01", 0.0020)),
    "KONEX": (("2024-01-01", 0.0010),),
    "CRYPTO": (("2024-01-01", 0.0),),
}
DEFAULT_MARKET = "KOSPI"


def sell_tax_rate(market: str, dates: np.ndarray | Sequence[str]) -> np.ndarray:
    """Sell tax rate (fraction of the sell value) of ``market`` on each of ``dates``.

    ``market`` is case-insensitive (KOSPI, KOSDAQ, KONEX, CRYPTO). Returns float64 of ``len(dates)``.
    Raises ValueError for an unknown market.
    """
    table = SELL_TAX_TABLE.get(str(market).upper())
    if table is None:
        raise ValueError(f"unknown market {market!r}: expected one of {', '.join(SELL_TAX_TABLE)}")
    days = np.asarray(dates, dtype="datetime64[D]")
    starts = np.array([start for start, _ in table], dtype="datetime64[D]")
    rates = np.array([rate for _, rate in table], dtype=np.float64)
    index = np.searchsorted(starts, days, side="right") - 1
    return rates[np.maximum(index, 0)]


@dataclass(frozen=True)
class Costs:
    """Cost model: ``commission`` per side (fraction of the fill value), ``slippage_bps`` (basis
    points moving every fill against the trader: buys higher, sells lower), ``sell_tax`` (a fixed
    fraction of the sell value overriding the dated market table when not None).

    Raises ValueError for negative, non-finite or absurd (>= 100 %) values.
    """

    commission: float = 0.00015
    slippage_bps: float = 0.0
    sell_tax: float | None = None

    def __post_init__(self) -> None:
        for name in ("commission", "slippage_bps", "sell_tax"):
            value = getattr(self, name)
            if value is None:
                continue
            limit = 10_000.0 if name == "slippage_bps" else 1.0
            if not isinstance(value, int | float) or not math.isfinite(value) or not 0.0 <= value < limit:
                raise ValueError(f"{name} must be a number in [0, {limit:g}), got {value!r}")

    @property
    def slippage(self) -> float:
        """Slippage as a fraction of the price."""
        return self.slippage_bps / 10_000.0

    def sell_tax_rates(self, market: str, dates: np.ndarray) -> np.ndarray:
        """The sell tax rate on each date: the fixed ``sell_tax`` if set, else the market's table."""
        if self.sell_tax is not None:
            return np.full(np.asarray(dates).shape[0], float(self.sell_tax))
        return sell_tax_rate(market, dates)
