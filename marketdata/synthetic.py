"""Deterministic synthetic daily bars for demos, tests and benchmarks.

Pure core (no Django imports). Each symbol is a geometric random walk from a log-uniform starting
price between 1,000 and 500,000 KRW, rounded to KRX stock ticks, on business days (Mon-Fri; KRX
holidays are not modelled). Codes are "9" + 5 digits (900001, ...), a range KRX does not use, so
they never collide with real instruments. Symbol ``i`` depends only on (seed, i): asking for more
symbols adds new ones without changing the first ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from marketdata.store import BarStore
from marketdata.ticks import round_to_tick

CODE_PREFIX = "9"
MAX_SYMBOLS = 99_999
DEFAULT_START = dt.date(2015, 1, 1)
MIN_PRICE, MAX_PRICE = 1_000.0, 500_000.0


@dataclass(frozen=True)
class SyntheticBars:
    code: str
    date: np.ndarray  # datetime64[D]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    value: np.ndarray


def synthetic_code(index: int) -> str:
    """The code of the ``index``-th synthetic symbol (0-based): 900001, 900002, ..."""
    if not 0 <= index < MAX_SYMBOLS:
        raise ValueError(f"symbol index {index} is outside 0..{MAX_SYMBOLS - 1}")
    return f"{CODE_PREFIX}{index + 1:05d}"


def business_days(start: dt.date, years: int) -> np.ndarray:
    """Mon-Fri dates from ``start`` (inclusive) to the same day ``years`` later (exclusive)."""
    if years <= 0:
        raise ValueError("years must be positive")
    try:
        end = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + years, day=28)
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D"), dtype="datetime64[D]")
    return days[np.is_busday(days)]


def synthetic_bars(index: int, days: np.ndarray, seed: int) -> SyntheticBars:
    """Bars of the ``index``-th symbol on ``days``; identical for identical (index, days, seed).

    Invariants: prices on KRX ticks and >= 1, high >= max(open, close), low <= min(open, close),
    volume >= 1, value = volume x typical price.
    """
    code = synthetic_code(index)
    rng = np.random.default_rng([seed, index])
    n = days.size
    start_price = np.exp(rng.uniform(np.log(MIN_PRICE), np.log(MAX_PRICE)))
    sigma = rng.uniform(0.01, 0.035)
    drift = rng.normal(0.0002, 0.0004)
    returns = rng.standard_t(df=4, size=n) * sigma / np.sqrt(2.0) + drift
    close_raw = start_price * np.exp(np.cumsum(returns))
    previous = np.concatenate([[start_price], close_raw[:-1]])
    open_raw = previous * np.exp(rng.normal(0.0, sigma / 3, size=n))
    wick = np.abs(rng.normal(0.0, sigma / 2, size=(2, n)))
    high_raw = np.maximum(open_raw, close_raw) * np.exp(wick[0])
    low_raw = np.minimum(open_raw, close_raw) * np.exp(-wick[1])

    open_ = np.maximum(round_to_tick(open_raw, "krx_stock", "nearest"), 1.0)
    close = np.maximum(round_to_tick(close_raw, "krx_stock", "nearest"), 1.0)
    high = np.maximum(round_to_tick(high_raw, "krx_stock", "up"), np.maximum(open_, close))
    low = np.maximum(round_to_tick(low_raw, "krx_stock", "down"), 1.0)
    low = np.minimum(low, np.minimum(open_, close))

    base_volume = np.exp(rng.uniform(np.log(1e4), np.log(3e6)))
    volume = np.maximum(np.round(base_volume * rng.lognormal(0.0, 0.6, size=n) * (1 + 20 * np.abs(returns))), 1.0)
    value = np.round(volume * (open_ + high + low + close) / 4)
    return SyntheticBars(code, days, open_, high, low, close, volume, value)


def generate_universe(
    symbols: int, years: int, seed: int, start: dt.date = DEFAULT_START
) -> Iterator[SyntheticBars]:
    """Yield ``symbols`` synthetic symbols over ``years`` years of business days from ``start``."""
    if not 0 < symbols <= MAX_SYMBOLS:
        raise ValueError(f"symbols must be between 1 and {MAX_SYMBOLS}")
    days = business_days(start, years)
    for index in range(symbols):
        yield synthetic_bars(index, days, seed)


@dataclass(frozen=True)
class GenerationSummary:
    symbols: int
    rows: int
    first: dt.date | None
    last: dt.date | None


def write_universe(
    store: BarStore,
    *,
    market: str,
    symbols: int,
    years: int,
    seed: int,
    start: dt.date = DEFAULT_START,
    on_symbol: Callable[[str], None] | None = None,
) -> GenerationSummary:
    """Generate the synthetic universe into ``store`` under ``market``; ``on_symbol`` runs after each code.

    Re-running with the same arguments rewrites the same rows (the store de-duplicates by date).
    """
    rows = 0
    days = business_days(start, years)
    for bars in generate_universe(symbols, years, seed, start):
        result = store.write(
            bars.code, market, bars.date, bars.open, bars.high, bars.low, bars.close, bars.volume, bars.value
        )
        rows += result.rows_total
        if on_symbol is not None:
            on_symbol(bars.code)
    first = days[0].item() if days.size else None
    last = days[-1].item() if days.size else None
    return GenerationSummary(symbols=symbols, rows=rows, first=first, last=last)
