"""Tick sizes (호가가격단위) and rounding to them, vectorised over numpy price arrays.

Pure core (no Django imports). Regimes match ``marketdata.models.TickRegime``:

* ``krx_stock``: KRX stock table since the 2023-01-25 reform, the same for KOSPI, KOSDAQ and KONEX
  (broker-apis.md, section D2).
* ``krx_etf``: ETF/ETN, a flat 5 KRW. broker-apis.md marks this **unconfirmed**.
* ``upbit_krw``: Upbit's KRW market. NOT from broker-apis.md (it has no Upbit table): taken from
  Upbit's published table (docs.upbit.com "원화(KRW) 마켓 주문 가격 단위", policy in force since
  2025-07-31) for prices of 100 KRW and more. Below 100 KRW the current page could not be read
  here; those bands follow Upbit's previous table and are **unconfirmed**. A few pairs have their
  own exceptions (USDT/USDC 1,000-10,000 KRW: 0.5). Upbit's ``GET /v1/orderbook/instruments``
  returns the live tick per pair: prefer it when placing real orders.

Band boundaries are multiples of the next band's tick, so rounding with the tick of the price's
own band always lands on a valid price.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

# (lower bound of the band, tick) in ascending order; the first bound must be 0.
TICK_TABLES: dict[str, tuple[tuple[float, float], ...]] = {
    "krx_stock": (
        (0, 1),
        (2_000, 5),
        (5_000, 10),
        (20_000, 50),
        (50_000, 100),
        (200_000, 500),
        (500_000, 1_000),
    ),
    "krx_etf": ((0, 5),),
    "upbit_krw": (
        # below 100 KRW: Upbit's previous table, unconfirmed for the current policy
        (0, 0.00000001),
        (0.0001, 0.0000001),
        (0.001, 0.000001),
        (0.01, 0.00001),
        (0.1, 0.0001),
        (1, 0.001),
        (10, 0.01),
        # from 100 KRW: Upbit's table since 2025-07-31
        (100, 1),
        (1_000, 1),
        (5_000, 5),
        (10_000, 10),
        (50_000, 50),
        (100_000, 100),
        (500_000, 500),
        (1_000_000, 1_000),
        (2_000_000, 1_000),
    ),
}

Direction = Literal["nearest", "down", "up"]
# Fractional ticks (crypto) make price / tick inexact; snap to this many decimals after rounding.
_DECIMALS = 8
_EPSILON = 1e-9


def _table(regime: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        bands = TICK_TABLES[regime]
    except KeyError:
        raise ValueError(f"unknown tick regime {regime!r}; expected one of {sorted(TICK_TABLES)}") from None
    bounds, ticks = zip(*bands, strict=True)
    return np.asarray(bounds, dtype=np.float64), np.asarray(ticks, dtype=np.float64)


def tick_size(prices: np.ndarray | float, regime: str = "krx_stock") -> np.ndarray:
    """The tick of each price's own band (price >= band lower bound). Raises ValueError on unknown regimes."""
    bounds, ticks = _table(regime)
    band = np.searchsorted(bounds, np.asarray(prices, dtype=np.float64), side="right") - 1
    return ticks[np.clip(band, 0, len(ticks) - 1)]


def round_to_tick(
    prices: np.ndarray | float, regime: str = "krx_stock", direction: Direction = "nearest"
) -> np.ndarray:
    """Round prices onto the tick grid: "down" for buy limits, "up" for sell limits (broker-apis.md D2).

    Uses the tick of the price being rounded. Prices already on the grid are returned unchanged.
    Raises ValueError on an unknown regime or direction.
    """
    values = np.asarray(prices, dtype=np.float64)
    tick = tick_size(values, regime)
    steps = values / tick
    if direction == "nearest":
        rounded = np.floor(steps + 0.5)
    elif direction == "down":
        rounded = np.floor(steps + _EPSILON)
    elif direction == "up":
        rounded = np.ceil(steps - _EPSILON)
    else:
        raise ValueError(f"unknown rounding direction {direction!r}")
    return np.round(rounded * tick, _DECIMALS)


def is_on_tick(prices: np.ndarray | float, regime: str = "krx_stock") -> np.ndarray:
    """True where a price already sits on the tick grid of its band."""
    values = np.asarray(prices, dtype=np.float64)
    return np.isclose(round_to_tick(values, regime, "nearest"), values, rtol=0, atol=1e-9)
