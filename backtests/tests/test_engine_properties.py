"""Invariants of the engine on random panels, signals and settings (hypothesis, derandomised)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from backtests.engine import EngineConfig, run
from backtests.tests.test_engine_helpers import holdings_from_trades, make_panel


@st.composite
def cases(draw):
    n_sym = draw(st.integers(1, 3))
    n_bars = draw(st.integers(2, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    close = np.round(1000 * np.exp(np.cumsum(rng.normal(0, 0.05, (n_sym, n_bars)), axis=1)))
    open_ = np.round(close * np.exp(rng.normal(0, 0.03, (n_sym, n_bars))))
    high = np.fmax(open_, close) * (1 + rng.uniform(0, 0.05, (n_sym, n_bars)))
    low = np.fmin(open_, close) * (1 - rng.uniform(0, 0.05, (n_sym, n_bars)))
    missing = rng.random((n_sym, n_bars)) < draw(st.sampled_from([0.0, 0.2]))
    for array in (close, open_, high, low):
        array[missing] = np.nan
    panel = make_panel(close, open_, high, low, start=draw(st.sampled_from(["2024-12-20", "2025-12-20"])))
    entries = rng.random((n_sym, n_bars)) < 0.3
    exits = rng.random((n_sym, n_bars)) < 0.3
    # intraday entries (volatility_breakout): a price inside the bar's range, NaN where no entry
    entry_price = None
    if draw(st.booleans()):
        entry_price = np.where(entries, low + (high - low) * rng.random((n_sym, n_bars)), np.nan)
    config = EngineConfig(
        cash=draw(st.sampled_from([5_000.0, 1_000_000.0])),
        fill=draw(st.sampled_from(["next_open", "close"])),
        accounts=draw(st.sampled_from(["independent", "shared"])),
        sizing=draw(st.sampled_from(["all_in", "equal_weight", ("fixed_krw", 300_000.0), ("pct_equity", 0.5)])),
        max_positions=draw(st.sampled_from([None, 1, 2])),
        stop_loss=draw(st.sampled_from([None, 0.03])),
        take_profit=draw(st.sampled_from([None, 0.05])),
        trailing_stop=draw(st.sampled_from([None, 0.04])),
        max_holding_days=draw(st.sampled_from([None, 3])),
    )
    return panel, entries, exits, config, entry_price


@settings(derandomize=True, max_examples=100, deadline=None)
@given(cases())
def test_accounting_invariants(case):
    panel, entries, exits, config, entry_price = case
    result = run(panel, entries, exits, config=config, entry_price=entry_price)
    table = result.trade_table
    # cash + holdings = equity every day, holdings rebuilt from the trade list
    np.testing.assert_allclose(result.equity - result.cash, holdings_from_trades(result), rtol=1e-9, atol=1e-6)
    assert (result.account_cash >= -1e-9).all()
    assert (table.shares > 0).all() and np.array_equal(table.shares, np.floor(table.shares))  # whole shares
    # no fill on a day without a bar, exits after entries, at most one open position per symbol
    has_bar = panel.has_bar
    assert has_bar[table.symbol, table.entry_bar].all()
    closed = table.exit_bar >= 0
    assert has_bar[table.symbol[closed], table.exit_bar[closed]].all()
    assert (table.exit_bar[closed] >= table.entry_bar[closed]).all()
    assert np.bincount(table.symbol[~closed], minlength=panel.n_symbols).max(initial=0) <= 1
    if config.accounts == "shared" and config.max_positions:
        assert result.arrays.open_positions.max(initial=0) <= config.max_positions
    # no tax is ever charged on a buy: an open trade has paid none
    assert (table.tax[~closed] == 0).all()


@settings(derandomize=True, max_examples=60, deadline=None)
@given(cases(), st.integers(0, 29), st.floats(0.5, 2.0))
def test_changing_later_bars_never_changes_the_past(case, cut, factor):
    panel, entries, exits, config, entry_price = case
    cut = min(cut, panel.n_bars - 1)
    before = run(panel, entries, exits, config=config, entry_price=entry_price)
    arrays = {name: getattr(panel, name).copy() for name in ("open", "high", "low", "close", "volume")}
    for array in arrays.values():
        array[:, cut + 1:] *= factor
    later = make_panel(arrays["close"], arrays["open"], arrays["high"], arrays["low"], start=str(panel.dates[0]))
    if entry_price is not None:
        entry_price = entry_price.copy()
        entry_price[:, cut + 1:] *= factor
    after = run(later, entries, exits, config=config, entry_price=entry_price)
    np.testing.assert_array_equal(before.equity[: cut + 1], after.equity[: cut + 1])
    np.testing.assert_array_equal(before.cash[: cut + 1], after.cash[: cut + 1])
    old, new = before.trade_table, after.trade_table
    kept_old, kept_new = old.entry_bar <= cut, new.entry_bar <= cut
    np.testing.assert_array_equal(old.entry_bar[kept_old], new.entry_bar[kept_new])
    np.testing.assert_array_equal(old.shares[kept_old], new.shares[kept_new])
