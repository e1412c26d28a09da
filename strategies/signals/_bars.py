"""Each symbol's own bars: the NaN rule every strategy type follows.

A bar is *present* for a symbol when every price array the strategy reads is finite there (NaN marks
a day the symbol did not trade: before listing, after delisting, a halt, a hole in the data).
Indicators run on each symbol's present bars only, as if the missing days did not exist: a
20-bar window is the symbol's last 20 traded bars, an EMA steps once per traded bar, "the previous
bar" of a cross is the previous traded bar. This is what a per-symbol series without the missing rows
gives (a CSV per symbol, backtesting.py, vectorbt on one symbol), it keeps a one-day halt from
resetting a 200-bar average, and it never looks ahead: bar t only ever sees present bars <= t.
A missing bar never carries a signal.

:func:`own_bars` returns the prices in a *gap-free layout* of the same shape: a row with a hole in the
middle has its present bars packed to the left (its k-th present bar in column k, NaN after the
last); other rows are unchanged, so each row's NaN sit only before its first and after its last
present bar. Indicators are computed on that layout and :meth:`OwnBars.unpack` puts their signals
back on the original columns. Rows with no NaN at all (the usual case) cost one row-sum to detect
and are never copied.
"""

from __future__ import annotations

import numpy as np


class OwnBars:
    """Maps prices with missing bars to the gap-free layout and back (see the module docstring)."""

    def __init__(self, prices: list[np.ndarray]) -> None:
        n_symbols, n_bars = prices[0].shape
        row_sums = sum(p.sum(axis=1) for p in prices)
        self.ragged = np.flatnonzero(~np.isfinite(row_sums))  # rows with a missing bar somewhere
        self.shape = (n_symbols, n_bars)
        present = np.ones((self.ragged.size, n_bars), dtype=bool)
        for p in prices:
            rows = p[self.ragged]
            if np.isinf(rows).any():
                raise ValueError("price arrays must hold finite prices or NaN for a missing bar, not infinities")
            present &= ~np.isnan(rows)
        self.ragged_present = present
        counts = present.sum(axis=1)
        if self.ragged.size:
            first = np.argmax(present, axis=1)
            last = n_bars - 1 - np.argmax(present[:, ::-1], axis=1)
            holed = (counts > 0) & (last - first + 1 != counts)
        else:
            holed = np.zeros(0, dtype=bool)
        self.holed = self.ragged[holed]  # rows that need packing
        self.holed_present = present[holed]
        # column of each present bar in the packed row, row-major over holed rows
        holed_counts = counts[holed]
        starts = np.cumsum(holed_counts) - holed_counts
        self._rank = np.arange(int(holed_counts.sum())) - np.repeat(starts, holed_counts)
        self._row = np.repeat(np.arange(self.holed.size), holed_counts)

    @property
    def present(self) -> np.ndarray:
        """Full boolean mask of present bars (symbols x bars); built on demand."""
        mask = np.ones(self.shape, dtype=bool)
        mask[self.ragged] = self.ragged_present
        return mask

    def pack(self, values: np.ndarray, *, mask: bool = True) -> np.ndarray:
        """``values`` in the gap-free layout (a new array unless nothing needs to change).

        ``mask=False`` skips blanking bars that are absent only in *other* price arrays (valid when
        ``values`` alone defined the present bars).
        """
        if self.ragged.size == 0:
            return values
        out = values
        if mask:
            out = values.copy()
            out[self.ragged] = np.where(self.ragged_present, values[self.ragged], np.nan)
        if self.holed.size:
            out = out.copy() if out is values else out
            block = np.full((self.holed.size, self.shape[1]), np.nan)
            block[self._row, self._rank] = values[self.holed][self.holed_present]
            out[self.holed] = block
        return out

    def unpack(self, packed: np.ndarray) -> np.ndarray:
        """Signals (bool) or prices (float) from the gap-free layout back on the original bars.

        Missing bars get False (bool) or NaN (float).
        """
        if self.ragged.size == 0:
            return packed
        fill = False if packed.dtype == bool else np.nan
        out = packed.copy()
        out[self.ragged] = np.where(self.ragged_present, packed[self.ragged], fill)
        if self.holed.size:
            block = np.full((self.holed.size, self.shape[1]), fill, dtype=packed.dtype)
            block[self.holed_present] = packed[self.holed][self._row, self._rank]
            out[self.holed] = block
        return out


def own_bars(*prices: np.ndarray) -> tuple[OwnBars, list[np.ndarray]]:
    """The :class:`OwnBars` of the given price arrays and each array in the gap-free layout.

    Arrays must be 2-D (symbols x bars), the same shape, float (converted to float64); infinite
    values raise ``ValueError``.
    """
    arrays = [np.asarray(p, dtype=np.float64) for p in prices]
    shape = arrays[0].shape
    if len(shape) != 2 or any(a.shape != shape for a in arrays):
        raise ValueError(f"price arrays must be 2-D (symbols x bars) of one shape, got {[a.shape for a in arrays]}")
    bars = OwnBars(arrays)
    return bars, [bars.pack(a, mask=len(arrays) > 1) for a in arrays]
