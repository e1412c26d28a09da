"""Each strategy type against a plain per-symbol Python loop, look-ahead and blocking checks.

The reference drops each symbol's missing bars (the NaN rule of ``strategies.signals._bars``), runs
the textbook definition bar by bar, and maps the signals back onto the original columns.
"""

import math

import numpy as np
import pytest

from strategies.signals import _blocks, _windows, compute

PARAMS = {
    "sma_cross": {"fast": 3, "slow": 7},
    "ema_cross": {"fast": 3, "slow": 8},
    "macd_cross": {"fast": 3, "slow": 8, "signal": 4},
    "rsi_reversion": {"period": 5, "buy_below": 40.0, "sell_above": 60.0},
    "bollinger_reversion": {"period": 10, "width": 1.0},
    "donchian_breakout": {"entry_period": 10, "exit_period": 5},
    "volatility_breakout": {"k": 0.5},
    "buy_and_hold": {},
}
READS = {
    "donchian_breakout": ("high", "low", "close"),
    "volatility_breakout": ("open", "high", "low"),
}


def make_panel(seed: int, *, integer: bool, n_bars: int = 260) -> dict[str, np.ndarray]:
    """Six symbols: clean, late listing, a mid-series halt, scattered holes, never listed, delisted."""
    rng = np.random.default_rng(seed)
    n = 6
    close = 1000 + np.cumsum(rng.normal(0, 12, (n, n_bars)), axis=1)
    open_ = close + rng.normal(0, 6, (n, n_bars))
    high = np.maximum(open_, close) + rng.exponential(6, (n, n_bars))
    low = np.minimum(open_, close) - rng.exponential(6, (n, n_bars))
    panel = {"open": open_, "high": high, "low": low, "close": close}
    if integer:  # KRW-like whole prices: equal averages and touches happen
        panel = {k: np.round(v / 5) * 5 for k, v in panel.items()}
    nan = np.nan
    for v in panel.values():
        v[1, :40] = nan
        v[2, 100:121] = nan
        v[3, :7] = nan
        v[3, [50, 51, 90, 180]] = nan
        v[4, :] = nan
        v[5, :15] = nan
        v[5, 230:] = nan
    panel["high"][3, 140] = nan  # missing in one array only: absent for the types that read it
    panel["open"][0, 60] = nan
    return panel


# --- reference implementations (one symbol, present bars only, lists of float or None) --------

def ref_sma(x, n):
    return [sum(x[t - n + 1:t + 1]) / n if t >= n - 1 else None for t in range(len(x))]


def ref_ema(x, span):
    alpha, out, state, seen = 2 / (span + 1), [], None, 0
    for value in x:
        if value is None:
            out.append(None)
            continue
        state = value if state is None else state + alpha * (value - state)
        seen += 1
        out.append(state if seen >= span else None)
    return out


def ref_cross(a, b):
    """(above, below) per bar; b may be a list or a number."""
    b = b if isinstance(b, list) else [b] * len(a)
    up, down = [False] * len(a), [False] * len(a)
    for t in range(1, len(a)):
        if None in (a[t], a[t - 1], b[t], b[t - 1]):
            continue
        up[t] = a[t] > b[t] and a[t - 1] <= b[t - 1]
        down[t] = a[t] < b[t] and a[t - 1] >= b[t - 1]
    return up, down


def ref_wilder(x, n):  # x[0] is None (no change on the first bar)
    out, avg = [None] * len(x), None
    for t in range(1, len(x)):
        if t == n:
            avg = sum(x[1:n + 1]) / n
        elif t > n:
            avg = avg + (1.0 / n) * (x[t] - avg)
        out[t] = avg
    return out


def ref_rsi(c, n):
    change = [None] + [c[t] - c[t - 1] for t in range(1, len(c))]
    gain = ref_wilder([None] + [max(d, 0.0) for d in change[1:]], n)
    loss = ref_wilder([None] + [max(-d, 0.0) for d in change[1:]], n)
    out = []
    for g, l_ in zip(gain, loss):
        out.append(None if g is None else (50.0 if g + l_ == 0 else 100.0 * g / (g + l_)))
    return out


def ref_signals(name, p, bars):
    """Entries, exits, entry prices on one symbol's present bars."""
    c, h, l_, o = bars.get("close"), bars.get("high"), bars.get("low"), bars.get("open")
    if name == "sma_cross":
        return (*ref_cross(ref_sma(c, p["fast"]), ref_sma(c, p["slow"])), None)
    if name == "ema_cross":
        return (*ref_cross(ref_ema(c, p["fast"]), ref_ema(c, p["slow"])), None)
    if name == "macd_cross":
        fast, slow = ref_ema(c, p["fast"]), ref_ema(c, p["slow"])
        macd = [None if s is None else f - s for f, s in zip(fast, slow)]
        return (*ref_cross(macd, ref_ema(macd, p["signal"])), None)
    if name == "rsi_reversion":
        rsi = ref_rsi(c, p["period"])
        return ref_cross(rsi, p["buy_below"])[1], ref_cross(rsi, p["sell_above"])[0], None
    if name == "bollinger_reversion":
        n, mid, lower = p["period"], ref_sma(c, p["period"]), []
        for t in range(len(c)):
            if mid[t] is None:
                lower.append(None)
                continue
            window = c[t - n + 1:t + 1]
            mean = sum(window) / n
            lower.append(mid[t] - p["width"] * math.sqrt(sum((v - mean) ** 2 for v in window) / n))
        return ref_cross(c, lower)[1], ref_cross(c, mid)[0], None
    if name == "donchian_breakout":
        en, ex = p["entry_period"], p["exit_period"]
        entries = [t >= en and c[t] > max(h[t - en:t]) for t in range(len(c))]
        exits = [t >= ex and c[t] < min(l_[t - ex:t]) for t in range(len(c))]
        return entries, exits, None
    if name == "volatility_breakout":
        entries, prices = [False] * len(o), [None] * len(o)
        for t in range(1, len(o)):
            target = o[t] + p["k"] * (h[t - 1] - l_[t - 1])
            if h[t] > target:
                entries[t], prices[t] = True, max(o[t], target)
        return entries, list(entries), prices
    if name == "buy_and_hold":
        return [t == 0 for t in range(len(c))], [False] * len(c), None
    raise AssertionError(name)


def reference(name, panel):
    fields = READS.get(name, ("close",))
    shape = panel["close"].shape
    entries, exits = np.zeros(shape, bool), np.zeros(shape, bool)
    price = np.full(shape, np.nan)
    for i in range(shape[0]):
        cols = [t for t in range(shape[1]) if all(not math.isnan(panel[f][i, t]) for f in fields)]
        bars = {f: [float(panel[f][i, t]) for t in cols] for f in fields}
        en, ex, px = ref_signals(name, PARAMS[name], bars)
        for k, t in enumerate(cols):
            entries[i, t], exits[i, t] = en[k], ex[k]
            if px is not None and px[k] is not None:
                price[i, t] = px[k]
    return entries, exits, price


@pytest.mark.parametrize("integer", [False, True], ids=["float", "integer"])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", list(PARAMS))
def test_each_type_matches_a_plain_loop(name, seed, integer):
    panel = make_panel(seed, integer=integer)
    sig = compute(name, **panel, params=PARAMS[name])
    entries, exits, price = reference(name, panel)
    assert sig.entries.any()
    assert np.array_equal(sig.entries, entries)
    assert np.array_equal(sig.exits, exits)
    if name == "volatility_breakout":
        assert np.array_equal(sig.entry_price, price, equal_nan=True)
    else:
        assert sig.entry_price is None


@pytest.mark.parametrize("name", list(PARAMS))
def test_missing_bars_never_signal(name):
    panel = make_panel(5, integer=True)
    sig = compute(name, **panel, params=PARAMS[name])
    absent = np.isnan(panel["close"])
    assert not sig.entries[absent].any() and not sig.exits[absent].any()
    assert not sig.entries[4].any()  # never listed


@pytest.mark.parametrize("name", list(PARAMS))
def test_changing_later_bars_never_changes_earlier_signals(name):
    panel = make_panel(7, integer=True)
    before = compute(name, **panel, params=PARAMS[name])
    rng = np.random.default_rng(11)
    for t in (30, 99, 120, 200):
        later = {k: v.copy() for k, v in panel.items()}
        for v in later.values():
            v[:, t + 1:] = np.round(v[:, t + 1:] * rng.uniform(0.8, 1.2, v[:, t + 1:].shape))
            v[0, t + 1:t + 4] = np.nan  # and a new gap right after t
        after = compute(name, **later, params=PARAMS[name])
        assert np.array_equal(after.entries[:, :t + 1], before.entries[:, :t + 1])
        assert np.array_equal(after.exits[:, :t + 1], before.exits[:, :t + 1])
        if before.entry_price is not None:
            assert np.array_equal(after.entry_price[:, :t + 1], before.entry_price[:, :t + 1], equal_nan=True)


@pytest.mark.parametrize("name", list(PARAMS))
def test_blocks_of_symbols_give_the_same_signals(name, monkeypatch):
    panel = {k: np.vstack([v] * 5) for k, v in make_panel(9, integer=False).items()}  # 30 symbols
    whole = compute(name, **panel, params=PARAMS[name])
    monkeypatch.setattr(_blocks, "BLOCK_CELLS", 2 * panel["close"].shape[1])  # 2 symbols per block
    blocked = compute(name, **panel, params=PARAMS[name])
    assert np.array_equal(whole.entries, blocked.entries) and np.array_equal(whole.exits, blocked.exits)
    if whole.entry_price is not None:
        assert np.array_equal(whole.entry_price, blocked.entry_price, equal_nan=True)


def test_the_numpy_recursion_matches_the_compiled_one():
    values = make_panel(4, integer=False)["close"]
    values[2, 100:] = np.nan  # the gap-free layout has only leading and trailing NaN
    seed = _windows.rolling_means(values, [5])[0]
    expected = np.empty_like(values)
    _windows._recursive_mean_loops(values, 0.2, seed, expected)
    assert np.array_equal(_windows._recursive_mean_numpy(values, 0.2, seed), expected, equal_nan=True)
    assert np.array_equal(_windows._recursive_mean(values, 0.2, seed), expected, equal_nan=True)


@pytest.mark.parametrize("n", [1, 2, 5, 7, 10])
def test_rolling_extremes_match_a_window_scan(n):
    values = make_panel(6, integer=False)["high"][[0, 1, 5]]
    expected_max = np.full_like(values, np.nan)
    expected_min = np.full_like(values, np.nan)
    for t in range(n - 1, values.shape[1]):
        expected_max[:, t] = values[:, t - n + 1:t + 1].max(axis=1)
        expected_min[:, t] = values[:, t - n + 1:t + 1].min(axis=1)
    assert np.array_equal(_windows.rolling_max(values, n), expected_max, equal_nan=True)
    assert np.array_equal(_windows.rolling_min(values, n), expected_min, equal_nan=True)


def test_windows_longer_than_the_history_give_no_signal():
    close = make_panel(1, integer=True)["close"][:, :20]
    sig = compute("sma_cross", close=close, params={"fast": 10, "slow": 30})
    assert not sig.entries.any() and not sig.exits.any()
    sig = compute("donchian_breakout", high=close, low=close, close=close, params={"entry_period": 30})
    assert not sig.entries.any()


def test_empty_panels_are_fine():
    for shape in [(0, 10), (3, 0)]:
        close = np.empty(shape)
        for name in PARAMS:
            sig = compute(name, open=close, high=close, low=close, close=close, params=PARAMS[name])
            assert sig.entries.shape == shape and not sig.entries.any()


@pytest.mark.parametrize(("fast", "slow"), [(3, 7), (1, 5), (10, 30), (2, 300)])
@pytest.mark.parametrize("integer", [True, False])
def test_the_compiled_sma_cross_matches_the_numpy_blocks_in_chunks_of_symbols(fast, slow, integer, monkeypatch):
    from strategies.signals import sma_cross

    if sma_cross._sma_cross_kernel is None:
        pytest.skip("numba is not installed")
    close = np.vstack([make_panel(seed, integer=integer)["close"] for seed in range(5)])  # 30 symbols
    expected = sma_cross._signals_numpy(close=close, fast=fast, slow=slow)
    whole = sma_cross.signals(close=close, fast=fast, slow=slow)
    monkeypatch.setattr(_blocks, "PARALLEL_MIN_CELLS", 1)  # chunks of symbols on the signal threads
    monkeypatch.setattr(_blocks, "_workers", lambda: 2)
    chunked = sma_cross.signals(close=close, fast=fast, slow=slow)
    for got in (whole, chunked):
        assert np.array_equal(got.entries, expected.entries) and np.array_equal(got.exits, expected.exits)
    assert expected.entries.any() or slow > close.shape[1]


def test_the_compiled_sma_cross_refuses_an_infinite_price():
    close = make_panel(2, integer=False)["close"]
    close[3, 77] = np.inf
    with pytest.raises(ValueError, match="infinit"):
        compute("sma_cross", close=close, params={"fast": 3, "slow": 7})
