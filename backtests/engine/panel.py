"""The aligned price panel the engine and the signal functions share.

Pure core (no Django imports). Every price array has shape ``(n_symbols, n_bars)``, float64, C
order, one row per symbol, one column per date of ``dates`` (the union of all symbols' dates). A
cell is NaN where the symbol has no bar that day (before listing, a suspension, missing data):
the engine never trades on such a day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from marketdata.store import BarSet

PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class Panel:
    """Aligned OHLCV arrays ``(n_symbols, n_bars)`` with NaN where a symbol has no bar.

    ``dates`` is ``datetime64[D]``, strictly increasing; ``symbols`` names the rows. Arrays are
    converted to C-contiguous float64 on construction (no copy when they already are). Raises
    ValueError on inconsistent shapes, unsorted or duplicate dates, or duplicate symbols.
    """

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    dates: np.ndarray
    symbols: list[str]

    def __post_init__(self) -> None:
        dates = np.asarray(self.dates, dtype="datetime64[D]")
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "symbols", [str(symbol) for symbol in self.symbols])
        shape = (len(self.symbols), dates.shape[0])
        for name in PRICE_FIELDS:
            array = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if array.shape != shape:
                raise ValueError(f"{name} has shape {array.shape}, expected {shape} (symbols x dates)")
            object.__setattr__(self, name, array)
        if dates.ndim != 1 or (dates.size > 1 and not bool(np.all(dates[1:] > dates[:-1]))):
            raise ValueError("dates must be one-dimensional and strictly increasing")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError("symbols must be unique")

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_symbols, n_bars)``."""
        return self.close.shape  # type: ignore[return-value]

    @property
    def n_symbols(self) -> int:
        return self.close.shape[0]

    @property
    def n_bars(self) -> int:
        return self.close.shape[1]

    @property
    def has_bar(self) -> np.ndarray:
        """Boolean ``(n_symbols, n_bars)``: True where the symbol has a bar (a finite close)."""
        return np.isfinite(self.close)

    @classmethod
    def from_barset(cls, barset: BarSet) -> Panel:
        """Align a ``marketdata.store.BarSet`` on the union of its dates (NaN where a code has no bar).

        Rows follow ``barset.codes``; a code without bars becomes an all-NaN row.
        """
        dates = np.unique(np.asarray(barset.date, dtype="datetime64[D]"))
        counts = np.diff(np.asarray(barset.offsets, dtype=np.int64))
        rows = np.repeat(np.arange(len(barset.codes)), counts)
        cols = np.searchsorted(dates, np.asarray(barset.date, dtype="datetime64[D]"))
        arrays: dict[str, np.ndarray] = {}
        for name in PRICE_FIELDS:
            array = np.full((len(barset.codes), dates.shape[0]), np.nan)
            array[rows, cols] = getattr(barset, name)
            arrays[name] = array
        return cls(dates=dates, symbols=list(barset.codes), **arrays)
