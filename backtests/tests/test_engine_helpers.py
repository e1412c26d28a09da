"""Builders shared by the engine tests (no tests here): small hand-made panels and a plain sma-cross."""

from __future__ import annotations

import numpy as np

from backtests.engine import Panel


def make_panel(close, open_=None, high=None, low=None, start="2024-01-02", symbols=None) -> Panel:
    """A panel from lists (1-D for one symbol, 2-D for several); high/low default to the bar's
    max/min of open and close; dates are consecutive calendar days from ``start``."""
    close = np.atleast_2d(np.asarray(close, dtype=np.float64))
    open_ = close.copy() if open_ is None else np.atleast_2d(np.asarray(open_, dtype=np.float64))
    high = np.fmax(open_, close) if high is None else np.atleast_2d(np.asarray(high, dtype=np.float64))
    low = np.fmin(open_, close) if low is None else np.atleast_2d(np.asarray(low, dtype=np.float64))
    n_sym, n_bars = close.shape
    dates = np.datetime64(start, "D") + np.arange(n_bars)
    symbols = symbols or [f"{900001 + i}" for i in range(n_sym)]
    return Panel(open=open_, high=high, low=low, close=close, volume=np.ones_like(close), dates=dates,
                 symbols=symbols)


def signals(shape, entries=(), exits=()) -> tuple[np.ndarray, np.ndarray]:
    """Boolean arrays with True at the given bars (ints for one symbol, (symbol, bar) pairs else)."""
    shape = shape if len(shape) == 2 else (1, shape[0])
    result = []
    for cells in (entries, exits):
        mask = np.zeros(shape, dtype=bool)
        for cell in cells:
            mask[(0, cell) if isinstance(cell, int) else cell] = True
        result.append(mask)
    return result[0], result[1]


def random_walk_panel(n_sym: int, n_bars: int, seed: int, start: str = "2024-01-02") -> Panel:
    rng = np.random.default_rng(seed)
    close = np.round(10_000 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_sym, n_bars)), axis=1)))
    open_ = np.round(close * np.exp(rng.normal(0, 0.01, (n_sym, n_bars))))
    high = np.fmax(open_, close) * (1 + rng.uniform(0, 0.02, (n_sym, n_bars)))
    low = np.fmin(open_, close) * (1 - rng.uniform(0, 0.02, (n_sym, n_bars)))
    return make_panel(close, open_, high, low, start=start)


def sma_cross(close: np.ndarray, fast: int, slow: int) -> tuple[np.ndarray, np.ndarray]:
    """Strict crosses of two simple moving averages (NaN until both exist): a tiny local helper."""
    def sma(n: int) -> np.ndarray:
        out = np.full_like(close, np.nan)
        csum = np.cumsum(close, axis=1)
        out[:, n - 1:] = (csum[:, n - 1:] - np.concatenate([np.zeros((close.shape[0], 1)), csum[:, :-n]], axis=1)) / n
        return out

    f, s = sma(fast), sma(slow)
    ok = np.isfinite(s)
    above, below = f > s, f < s
    prev_ok = np.zeros_like(ok)
    prev_ok[:, 1:] = ok[:, :-1]
    prev_not_above = np.zeros_like(ok)
    prev_not_above[:, 1:] = ~above[:, :-1]
    prev_not_below = np.zeros_like(ok)
    prev_not_below[:, 1:] = ~below[:, :-1]
    return ok & prev_ok & above & prev_not_above, ok & prev_ok & below & prev_not_below


def holdings_from_trades(result) -> np.ndarray:
    """Total market value at each close rebuilt from the trade list and the closes (carried over NaN)."""
    close = result.panel.close
    marked = close.copy()
    for t in range(1, marked.shape[1]):
        gap = np.isnan(marked[:, t])
        marked[gap, t] = marked[gap, t - 1]
    value = np.zeros(close.shape[1])
    table = result.trade_table
    for i in range(len(table)):
        end = table.exit_bar[i] if table.exit_bar[i] >= 0 else close.shape[1]
        s, start = table.symbol[i], table.entry_bar[i]
        value[start:end] += table.shares[i] * marked[s, start:end]
    return value
