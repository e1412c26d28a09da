"""Indicator building blocks on a gap-free layout (see ``_bars``): 2-D float64, symbols x bars.

Every function here expects each row's NaN to sit only before its first and after its last present
bar, and gives NaN wherever the indicator is not defined yet (its window is not full of present
bars) or any more. None looks ahead: the value at bar t depends on bars <= t only.

Rolling sums are O(n): one float64 cumulative sum per row and windows as differences of it. For
integer prices (KRW) and partial sums below 2**53 the sums are exact, so equal averages compare equal
(a tie is a tie); for fractional prices the difference carries a relative error of order
``1e-16 * bars / window``. Recursions (EMA, Wilder) run in the form ``state + alpha * (x - state)``
(exact on a flat series): a numba kernel (``cache=True``, ``nogil``) when numba is installed, else a
loop over bars with one numpy row operation across all symbols per step; both are bit-identical.
Rolling extremes use van Herk/Gil-Werman (O(n) whatever the window).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rolling_means(values: np.ndarray, windows: Sequence[int]) -> list[np.ndarray]:
    """Simple moving averages of ``values`` for each window length (sharing one cumulative sum)."""
    sums = _cumulative_sums(values)
    means = []
    for n in windows:
        if n == 1:
            means.append(values.copy())
            continue
        mean = _window_sums(sums, n)
        np.divide(mean, n, out=mean)
        _blank_incomplete(mean, values, n)
        means.append(mean)
    return means


def rolling_std(values: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation (ddof=0) over the last ``n`` bars.

    Computed from sums of ``values - first present value of the row`` and of their squares, which
    keeps the cancellation in ``E[y^2] - E[y]^2`` small; tiny negative variances are clipped to 0.
    """
    if values.shape[1] == 0:
        return values.copy()
    present = ~np.isnan(values)
    first = np.argmax(present, axis=1)
    reference = np.nan_to_num(values[np.arange(values.shape[0]), first], nan=0.0)
    shifted = np.nan_to_num(values - reference[:, None], nan=0.0)
    mean = _window_sums(np.cumsum(shifted, axis=1), n)
    np.divide(mean, n, out=mean)
    np.square(shifted, out=shifted)
    variance = _window_sums(np.cumsum(shifted, axis=1), n)
    np.divide(variance, n, out=variance)
    variance -= np.square(mean)
    np.maximum(variance, 0.0, out=variance)
    _blank_incomplete(variance, values, n)
    return np.sqrt(variance)


def rolling_max(values: np.ndarray, n: int) -> np.ndarray:
    """Highest value over the last ``n`` bars (NaN until the window is full)."""
    return _rolling_extreme(values, n, np.maximum)


def rolling_min(values: np.ndarray, n: int) -> np.ndarray:
    """Lowest value over the last ``n`` bars (NaN until the window is full)."""
    return _rolling_extreme(values, n, np.minimum)


def previous(values: np.ndarray) -> np.ndarray:
    """``values`` moved one bar later: the value at t is the one of bar t-1 (NaN at bar 0)."""
    out = np.empty_like(values)
    out[:, :1] = np.nan
    out[:, 1:] = values[:, :-1]
    return out


def ema(values: np.ndarray, span: int) -> np.ndarray:
    """Exponential moving average, ``alpha = 2 / (span + 1)``, seeded with the first present value.

    Equal to pandas' ``ewm(span=span, adjust=False, min_periods=span).mean()`` on the row's present
    bars: the recursion starts at the first value and the first ``span - 1`` outputs are NaN (warm-up).
    """
    smoothed = _recursive_mean(values, 2.0 / (span + 1.0), seed=values)
    seen = np.cumsum(~np.isnan(values), axis=1)
    smoothed[seen < span] = np.nan
    return smoothed


def wilder(values: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing: the mean of the first ``n`` values, then ``alpha = 1 / n`` recursion."""
    return _recursive_mean(values, 1.0 / n, seed=rolling_means(values, [n])[0])


def _cumulative_sums(values: np.ndarray) -> np.ndarray:
    """Cumulative sums along axis 1 with missing bars counted as 0 (rows without NaN are not copied)."""
    sums = np.cumsum(values, axis=1)
    ragged = np.flatnonzero(np.isnan(sums[:, -1])) if values.shape[1] else np.empty(0, dtype=int)
    if ragged.size:
        sums[ragged] = np.cumsum(np.nan_to_num(values[ragged], nan=0.0), axis=1)
    return sums


def _window_sums(sums: np.ndarray, n: int) -> np.ndarray:
    """Sums over windows of ``n`` bars from a cumulative sum along axis 1 (NaN before bar n-1)."""
    out = np.empty_like(sums)
    n_bars = sums.shape[1]
    if n > n_bars:
        out[:] = np.nan
        return out
    out[:, : n - 1] = np.nan
    out[:, n - 1] = sums[:, n - 1]
    np.subtract(sums[:, n:], sums[:, :-n], out=out[:, n:])
    return out


def _blank_incomplete(out: np.ndarray, values: np.ndarray, n: int) -> None:
    """NaN in ``out`` wherever the ``n`` bars ending at t are not all present in ``values``."""
    if values.shape[1] == 0:
        return
    # In a gap-free layout a row has NaN somewhere only if it has one at either end.
    ragged = np.flatnonzero(np.isnan(values[:, 0]) | np.isnan(values[:, -1]))
    if ragged.size == 0:
        return
    present = ~np.isnan(values[ragged])
    count = present.sum(axis=1)
    first = np.argmax(present, axis=1)
    last = first + count - 1
    bar = np.arange(values.shape[1])
    incomplete = (bar < (first + n - 1)[:, None]) | (bar > last[:, None]) | (count == 0)[:, None]
    block = out[ragged]
    block[incomplete] = np.nan
    out[ragged] = block


def _rolling_extreme(values: np.ndarray, n: int, op: np.ufunc) -> np.ndarray:
    """van Herk/Gil-Werman: running extremes inside blocks of ``n`` bars, forwards and backwards.

    The window [t-n+1, t] is covered by the backward run from t-n+1 to its block's end and the
    forward run from t's block start to t, both inside the window. NaN propagates, so a window
    touching a missing bar is NaN.
    """
    n_symbols, n_bars = values.shape
    out = np.full_like(values, np.nan)
    if n > n_bars or n_symbols == 0:
        return out
    if n == 1:
        return values.copy()
    blocks = -(-n_bars // n)
    padded = np.full((n_symbols, blocks * n), np.nan)
    padded[:, :n_bars] = values
    cube = padded.reshape(n_symbols, blocks, n)
    forward = op.accumulate(cube, axis=2).reshape(n_symbols, blocks * n)
    backward = op.accumulate(cube[:, :, ::-1], axis=2)[:, :, ::-1].reshape(n_symbols, blocks * n)
    op(backward[:, : n_bars - n + 1], forward[:, n - 1 : n_bars], out=out[:, n - 1 :])
    return out


def _recursive_mean(values: np.ndarray, alpha: float, seed: np.ndarray) -> np.ndarray:
    """``state = state + alpha * (x - state)``, started where ``seed`` is first finite (state = seed).

    A NaN state (not started, or a trailing missing bar) takes the seed of that bar. Uses the numba
    kernel when numba is installed, else a loop over bars with one numpy row operation per step;
    both give bit-identical results (same operations in the same order, no fastmath).
    """
    if _recursive_mean_kernel is not None:
        out = np.empty_like(values)
        _recursive_mean_kernel(np.ascontiguousarray(values), float(alpha), np.ascontiguousarray(seed), out)
        return out
    return _recursive_mean_numpy(values, alpha, seed)


def _recursive_mean_numpy(values: np.ndarray, alpha: float, seed: np.ndarray) -> np.ndarray:
    """The numpy fallback of :func:`_recursive_mean`: n_bars steps, each vectorised over symbols."""
    steps = np.ascontiguousarray(values.T)
    seeds = steps if seed is values else np.ascontiguousarray(seed.T)
    out = np.empty_like(steps)
    state = np.full(steps.shape[1], np.nan)
    for t in range(steps.shape[0]):
        row = out[t]
        np.subtract(steps[t], state, out=row)
        row *= alpha
        row += state
        unset = np.isnan(row)
        if unset.any():
            np.copyto(row, seeds[t], where=unset)
        state = row
    return np.ascontiguousarray(out.T)


def _recursive_mean_loops(values: np.ndarray, alpha: float, seed: np.ndarray, out: np.ndarray) -> None:
    for i in range(values.shape[0]):
        state = np.nan
        for t in range(values.shape[1]):
            state = state + alpha * (values[i, t] - state)
            if np.isnan(state):
                state = seed[i, t]
            out[i, t] = state


try:
    import numba
except ImportError:  # numba is optional: the numpy fallback gives the same numbers, slower
    _recursive_mean_kernel = None
else:
    _recursive_mean_kernel = numba.njit(cache=True, nogil=True)(_recursive_mean_loops)

RECURSION_COMPILED = _recursive_mean_kernel is not None
