"""Strict crosses, the one definition every strategy type uses.

``a`` crosses above ``b`` at bar t when ``a[t] > b[t]`` and ``a[t-1] <= b[t-1]``: an exact tie is
not "above", so a series that touches ``b`` and goes back down never crosses, and one that rises
through a tie crosses on the first bar strictly above. Crossing below is the mirror:
``a[t] < b[t]`` and ``a[t-1] >= b[t-1]``. Bar 0 never crosses, and a NaN at t or t-1 (an indicator
still warming up, a missing bar) never crosses either, because every comparison with NaN is False.

The arrays are 2-D (symbols x bars) and "t-1" is the previous column: strategies call these on
each symbol's own bars packed together (see ``_bars``), so the previous column is the previous bar
the symbol actually traded. ``b`` may be a scalar level (RSI thresholds).

Both compare the sign of ``a - b``, which for finite floats is zero exactly when ``a == b``.
"""

from __future__ import annotations

import numpy as np


def crosses(a: np.ndarray, b: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """``(crossed_above, crossed_below)`` of ``a`` against ``b``, boolean arrays shaped like ``a``."""
    gap = np.subtract(a, b)
    rising = gap > 0
    falling = gap < 0
    unknown = np.isnan(gap)
    above = np.zeros(gap.shape, dtype=bool)
    below = np.zeros(gap.shape, dtype=bool)
    # "before <= 0" is "not above and not NaN"; building it from the masks saves two float passes.
    np.logical_and(rising[:, 1:], ~(rising[:, :-1] | unknown[:, :-1]), out=above[:, 1:])
    np.logical_and(falling[:, 1:], ~(falling[:, :-1] | unknown[:, :-1]), out=below[:, 1:])
    return above, below


def crossed_above(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """True at t when ``a[t] > b[t]`` and ``a[t-1] <= b[t-1]``."""
    return crosses(a, b)[0]


def crossed_below(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """True at t when ``a[t] < b[t]`` and ``a[t-1] >= b[t-1]``."""
    return crosses(a, b)[1]
