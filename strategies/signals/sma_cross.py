"""Simple moving average crossover: long while the fast SMA is above the slow one.

Entry at bar t when SMA(fast) crosses above SMA(slow), exit when it crosses below (strict crosses,
see ``crosses``). Averages run over each symbol's own present bars (see ``_bars``); the first
possible signal is on the symbol's ``slow + 1``-th present bar.

With numba installed the whole computation runs as one compiled pass per symbol (``_sma_cross_rows``,
``nogil``, chunks of symbols on the signal threads): the same cumulative sum, window differences,
division and strict crosses as the numpy building blocks, in the same order, so the signals are
identical; without numba those blocks run over row blocks (``_signals_numpy``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks, in_row_chunks
from ._windows import rolling_means
from .crosses import crosses
from .params import Param, must_be_greater
from .result import Signals

NAME = "sma_cross"
LABEL_KO = "단순이동평균 교차"
LABEL_EN = "SMA crossover"
PARAMS = [
    Param("fast", int, 10, min=1, max=250, step=1,
          help_ko="짧은 이동평균의 기간(봉 수)", help_en="Bars in the fast moving average"),
    Param("slow", int, 30, min=2, max=500, step=1,
          help_ko="긴 이동평균의 기간(봉 수), 짧은 기간보다 커야 함",
          help_en="Bars in the slow moving average; greater than fast"),
]


def check(params: dict[str, Any]) -> dict[str, list[str]]:
    """``slow`` must exceed ``fast`` (the message goes on ``slow``)."""
    if params["fast"] >= params["slow"]:
        return {"slow": [must_be_greater("fast", params["fast"])]}
    return {}


def signals(*, close: np.ndarray, fast: int, slow: int, open: np.ndarray | None = None,
            high: np.ndarray | None = None, low: np.ndarray | None = None) -> Signals:
    """Entries and exits (symbols x bars) from ``close``; NaN bars never signal.

    Raises ValueError on a price array that is not 2-D or holds an infinity.
    """
    prices = np.asarray(close, dtype=np.float64)
    if _sma_cross_kernel is None or prices.ndim != 2:
        return _signals_numpy(close=prices, fast=fast, slow=slow)
    prices = np.ascontiguousarray(prices)
    n_rows, n_bars = prices.shape
    entries = np.empty(prices.shape, dtype=bool)
    exits = np.empty(prices.shape, dtype=bool)
    infinite = np.zeros(n_rows, dtype=np.bool_)

    def work(start: int, stop: int) -> None:
        _sma_cross_kernel(prices[start:stop], int(fast), int(slow), entries[start:stop], exits[start:stop],
                          infinite[start:stop])

    in_row_chunks(work, n_rows, n_bars)
    if infinite.any():
        raise ValueError("price arrays must hold finite prices or NaN for a missing bar, not infinities")
    return Signals(entries, exits)


@by_row_blocks
def _signals_numpy(*, close: np.ndarray, fast: int, slow: int) -> Signals:
    """The numpy path of :func:`signals` (no numba), from the indicator building blocks."""
    bars, (prices,) = own_bars(close)
    fast_ma, slow_ma = rolling_means(prices, [fast, slow])
    up, down = crosses(fast_ma, slow_ma)
    return Signals(bars.unpack(up), bars.unpack(down))


def _sma_cross_rows(close: np.ndarray, fast: int, slow: int, entries: np.ndarray, exits: np.ndarray,
                    infinite: np.ndarray) -> None:
    """One pass per row: its present bars packed, their cumulative sum, the two means, the crosses.

    Bit-identical to ``own_bars`` + ``rolling_means`` + ``crosses`` + ``unpack``: the cumulative sum
    adds the present values in order (numpy's cumsum; the zeros it adds for leading missing bars
    change nothing), a window is ``sums[k] - sums[k - n]`` (``sums[n - 1]`` for the first) divided by
    ``n``, a window of 1 is the value itself, and a cross compares the gap with the previous present
    bar's (NaN never crosses). ``infinite[i]`` is set when row i holds an infinity.

    A row without a missing bar (the usual case) is its own packed row: one pass sums it and finds
    that out, then simple loops over slices (vectorised by the compiler) compute the means, the gaps
    and every column of the crosses. A row with a NaN or an infinity is packed first and its crosses
    are set at their original columns. Rows are summed two at a time: each sum is a chain of
    additions in order, and two independent chains run side by side in the CPU.
    """
    n_rows, n_bars = close.shape
    sums = np.empty(n_bars)
    other_sums = np.empty(n_bars)
    work = (np.empty(n_bars), np.empty(n_bars), np.empty(n_bars), np.empty(n_bars), np.empty(n_bars, dtype=np.int64))
    for i in range(0, n_rows - 1, 2):
        row = close[i]
        other = close[i + 1]
        total = 0.0
        other_total = 0.0
        holes = 0.0
        other_holes = 0.0
        for t in range(n_bars):
            x = row[t]
            y = other[t]
            total += x
            other_total += y
            sums[t] = total
            other_sums[t] = other_total
            holes += x - x  # NaN from the first NaN or infinity on
            other_holes += y - y
        _row_signals(close, i, holes == 0.0, sums, fast, slow, work, entries, exits, infinite)
        _row_signals(close, i + 1, other_holes == 0.0, other_sums, fast, slow, work, entries, exits, infinite)
    if n_rows % 2:
        i = n_rows - 1
        row = close[i]
        total = 0.0
        holes = 0.0
        for t in range(n_bars):
            x = row[t]
            total += x
            sums[t] = total
            holes += x - x
        _row_signals(close, i, holes == 0.0, sums, fast, slow, work, entries, exits, infinite)


def _row_signals(close: np.ndarray, i: int, clean: bool, sums: np.ndarray, fast: int, slow: int, work: tuple,
                 entries: np.ndarray, exits: np.ndarray, infinite: np.ndarray) -> None:
    """Row i's signals from the cumulative sum of its values (``clean``: the row has no NaN and no
    infinity); ``work`` holds the scratch rows (values, means, gaps, columns)."""
    values, fast_means, slow_means, gaps, columns = work
    row = close[i]
    n_bars = row.shape[0]
    first = max(fast, slow) - 1  # the means are NaN before their windows fill
    if clean:
        m = n_bars
        packed = row
    else:
        m = 0
        total = 0.0
        for t in range(n_bars):
            x = row[t]
            if x == x:
                if x - x != 0.0:  # an infinity
                    infinite[i] = True
                total += x
                values[m] = x
                sums[m] = total
                columns[m] = t
                m += 1
        packed = values
    if fast > 1 and slow > 1:  # the gaps straight from the sums (the same operations, one loop)
        if first < m:
            gaps[first] = _mean_at(sums, first, fast) - _mean_at(sums, first, slow)
        _gaps_after(sums, first, m, fast, slow, gaps)
    else:
        _window_means(packed, sums, first, m, fast, fast_means)
        _window_means(packed, sums, first, m, slow, slow_means)
        _differences(fast_means, slow_means, first, m, gaps)
    if clean:
        _crosses(gaps, first, m, entries[i], exits[i])
        return
    entries[i, :] = False
    exits[i, :] = False
    before = np.nan
    for j in range(first, m):
        gap = gaps[j]
        if gap > 0.0 and before <= 0.0:
            entries[i, columns[j]] = True
        elif gap < 0.0 and before >= 0.0:
            exits[i, columns[j]] = True
        before = gap


def _window_means(values: np.ndarray, sums: np.ndarray, first: int, m: int, n: int, out: np.ndarray) -> None:
    """``out[j]`` = the mean of packed bars ``j - n + 1 .. j`` for ``first <= j < m`` (``first >= n - 1``),
    as ``rolling_means`` computes it."""
    if n == 1:
        out[first:m] = values[first:m]
        return
    start = first
    if start == n - 1 and start < m:
        out[start] = sums[start] / n
        start += 1
    if start >= m:
        return
    # slices rather than sums[j - n]: no negative index to wrap around, so the loop is vectorised
    ahead = sums[start:m]
    behind = sums[start - n:m - n]
    result = out[start:m]
    for j in range(m - start):
        result[j] = (ahead[j] - behind[j]) / n


def _mean_at(sums: np.ndarray, j: int, n: int) -> float:
    """The mean of packed bars ``j - n + 1 .. j`` (``j >= n - 1``, ``n > 1``), as ``_window_means``."""
    return sums[j] / n if j == n - 1 else (sums[j] - sums[j - n]) / n


def _gaps_after(sums: np.ndarray, first: int, m: int, fast: int, slow: int, out: np.ndarray) -> None:
    """``out[j]`` = fast mean - slow mean for ``first < j < m`` (``first >= max(fast, slow) - 1``, both
    windows > 1): each mean as ``_window_means`` computes it, their difference as ``_differences``."""
    start = first + 1
    if start >= m:
        return
    now = sums[start:m]
    fast_behind = sums[start - fast:m - fast]
    slow_behind = sums[start - slow:m - slow]
    result = out[start:m]
    for j in range(m - start):
        result[j] = (now[j] - fast_behind[j]) / fast - (now[j] - slow_behind[j]) / slow


def _differences(a: np.ndarray, b: np.ndarray, first: int, m: int, out: np.ndarray) -> None:
    """``out[j] = a[j] - b[j]`` for ``first <= j < m``."""
    if first >= m:
        return
    x = a[first:m]
    y = b[first:m]
    result = out[first:m]
    for j in range(m - first):
        result[j] = x[j] - y[j]


def _crosses(gaps: np.ndarray, first: int, m: int, entries: np.ndarray, exits: np.ndarray) -> None:
    """Every column of one row's strict crosses from its gaps (``gaps[j]`` for ``first <= j < m``; no
    cross before ``first + 1``, where the previous gap is NaN, nor from ``m`` on)."""
    head = min(first + 1, m)
    entries[:head] = False
    exits[:head] = False
    entries[m:] = False
    exits[m:] = False
    if first + 1 >= m:
        return
    now = gaps[first + 1:m]
    before = gaps[first:m - 1]
    up = entries[first + 1:m]
    down = exits[first + 1:m]
    for j in range(m - first - 1):
        gap = now[j]
        previous = before[j]
        up[j] = (gap > 0.0) & (previous <= 0.0)
        down[j] = (gap < 0.0) & (previous >= 0.0)


try:
    import numba
except ImportError:  # numba is optional: the numpy path gives the same signals, slower
    _sma_cross_kernel = None
else:
    _window_means = numba.njit(cache=True, nogil=True)(_window_means)
    _differences = numba.njit(cache=True, nogil=True)(_differences)
    _crosses = numba.njit(cache=True, nogil=True)(_crosses)
    _mean_at = numba.njit(cache=True, nogil=True)(_mean_at)
    _gaps_after = numba.njit(cache=True, nogil=True)(_gaps_after)
    _row_signals = numba.njit(cache=True, nogil=True)(_row_signals)
    _sma_cross_kernel = numba.njit(cache=True, nogil=True)(_sma_cross_rows)
