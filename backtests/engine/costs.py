"""Trading costs: commission per side, Korean securities transaction tax on sells, slippage.

Pure core. The sell tax is a date-effective table per market, from ``shared/docs/broker-apis.md``
(D4, "Securities transaction tax + rural special tax, charged on the sell amount only"). The rate
follows the sell's **settlement date**, the trade date plus two KRX trading days
(``marketdata.calendars``): the 2025 cut applied to sells executed from 2024-12-27, and sells executed
from 2025-12-29 settle in 2026 and pay 0.20 %.

| sells settled           | KOSPI, KOSDAQ | KONEX  |
| ----------------------- | ------------- | ------ |
| until 2019-06-02        | 0.30 %        | 0.30 % |
| 2019-06-03 – 2020-12-31 | 0.25 %        | 0.10 % |
| 2021 – 2022             | 0.23 %        | 0.10 % |
| 2023                    | 0.20 %        | 0.10 % |
| 2024                    | 0.18 %        | 0.10 % |
| 2025                    | 0.15 %        | 0.10 % |
| from 2026               | 0.20 %        | 0.10 % |

CRYPTO pays no tax. The first rate of a market also covers every earlier date (0.30 % held for many
years before 2019; the document's table starts there). A fixed ``Costs.sell_tax`` overrides the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from marketdata.calendars import calendar_for

_KRX_EQUITY = (
    ("2019-01-01", 0.0030),
    ("2019-06-03", 0.0025),
    ("2021-01-01", 0.0023),
    ("2023-01-01", 0.0020),
    ("2024-01-01", 0.0018),
    ("2025-01-01", 0.0015),
    ("2026-01-01", 0.0020),
)
# market -> ((settled from, rate), ...) in ascending date order; the first rate also covers every
# earlier date (see the module docstring).
SELL_TAX_TABLE: dict[str, tuple[tuple[str, float], ...]] = {
    "KOSPI": _KRX_EQUITY,
    "KOSDAQ": _KRX_EQUITY,
    "KONEX": (("2019-01-01", 0.0030), ("2019-06-03", 0.0010)),
    "CRYPTO": (("2019-01-01", 0.0),),
}
DEFAULT_MARKET = "KOSPI"


def _table(market: str) -> tuple[tuple[str, float], ...]:
    table = SELL_TAX_TABLE.get(str(market).upper())
    if table is None:
        raise ValueError(f"unknown market {market!r}: expected one of {', '.join(SELL_TAX_TABLE)}")
    return table


def settlement_dates(market: str, dates: np.ndarray | Sequence[str]) -> np.ndarray:
    """Settlement dates (``datetime64[D]``) of trades of ``market`` made on ``dates`` (vectorised)."""
    _table(market)
    return calendar_for(market).settlement_dates(np.asarray(dates, dtype="datetime64[D]"))


def sell_tax_rate_settled(market: str, settled: np.ndarray | Sequence[str]) -> np.ndarray:
    """Sell tax rate of ``market`` for sells settled on each of ``settled`` (float64 of the same length)."""
    table = _table(market)
    days = np.asarray(settled, dtype="datetime64[D]")
    starts = np.array([start for start, _ in table], dtype="datetime64[D]")
    rates = np.array([rate for _, rate in table], dtype=np.float64)
    index = np.searchsorted(starts, days, side="right") - 1
    return rates[np.maximum(index, 0)]


def sell_tax_rate(market: str, dates: np.ndarray | Sequence[str]) -> np.ndarray:
    """Sell tax rate (fraction of the sell value) of ``market`` for sells executed on each of ``dates``:
    the rate in force on each sell's settlement date.

    ``market`` is case-insensitive (KOSPI, KOSDAQ, KONEX, CRYPTO). Returns float64 of ``len(dates)``.
    Raises ValueError for an unknown market.
    """
    return sell_tax_rate_settled(market, settlement_dates(market, dates))


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
        """The sell tax rate of a sell executed on each date: the fixed ``sell_tax`` if set, else the
        market's table at the sell's settlement date."""
        if self.sell_tax is not None:
            return np.full(np.asarray(dates).shape[0], float(self.sell_tax))
        return sell_tax_rate(market, dates)
