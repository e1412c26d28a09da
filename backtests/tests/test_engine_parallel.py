"""Both cores: the symbol chunks run in parallel threads give exactly the serial run's results.

Independent accounts are cut into chunks of symbols on threads (the compiled loop releases the GIL);
a shared account has one cash balance per day across symbols and always runs in bar order, in one
piece or in progress chunks. Whatever the cut, every trade, series and metric must be identical.
"""

import numpy as np
import pytest

from backtests.engine import EngineConfig, Panel, core, run
from strategies.signals import _blocks, compute


def _panel(n_symbols: int = 40, n_bars: int = 300, seed: int = 3) -> Panel:
    rng = np.random.default_rng(seed)
    close = np.round(1000 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_symbols, n_bars)), axis=1)))
    open_ = np.round(close * (1 + rng.normal(0, 0.005, close.shape)))
    high = np.maximum(open_, close) * (1 + rng.exponential(0.01, close.shape))
    low = np.minimum(open_, close) * (1 - rng.exponential(0.01, close.shape))
    for a in (open_, high, low, close):
        a[1, :50] = np.nan  # late listing
        a[2, 120:130] = np.nan  # a halt
        a[3, 250:] = np.nan  # delisted
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + n_bars)
    return Panel(open=open_, high=high, low=low, close=close, volume=np.ones_like(close), dates=dates,
                 symbols=[f"S{i:03d}" for i in range(n_symbols)])


def _same_trades(a, b) -> None:
    ta, tb = a.trade_table, b.trade_table
    assert len(ta) > 20
    for name in ("symbol", "entry_bar", "exit_bar", "shares", "entry_price", "exit_price", "commission", "tax",
                 "cash_out", "cash_in"):
        assert np.array_equal(getattr(ta, name), getattr(tb, name), equal_nan=True), name
    for name in ("final_cash", "final_shares", "account_max_drawdown"):
        assert np.array_equal(getattr(a.arrays, name), getattr(b.arrays, name), equal_nan=True), name


def _same(a, b) -> None:
    _same_trades(a, b)
    for name in ("cash", "holdings", "open_positions", "final_cash", "final_shares", "account_max_drawdown"):
        assert np.array_equal(getattr(a.arrays, name), getattr(b.arrays, name), equal_nan=True), name


@pytest.mark.parametrize("accounts", ["independent", "shared"])
@pytest.mark.parametrize("stops", [{}, {"stop_loss": 0.05, "trailing_stop": 0.08, "max_holding_days": 15}])
def test_parallel_chunks_give_the_serial_results(accounts, stops, monkeypatch):
    panel = _panel()
    sizing = {"sizing": "equal_weight", "max_positions": 5} if accounts == "shared" else {}
    config = EngineConfig(cash=10_000_000.0, accounts=accounts, **sizing, **stops)

    def backtest():
        entries, exits = compute("sma_cross", close=panel.close, params={"fast": 5, "slow": 20})
        return entries, exits, run(panel, entries, exits, config=config)

    monkeypatch.setattr(core, "PARALLEL_MIN_SYMBOLS", 10**9)  # one chunk of symbols
    whole = backtest()[2]
    monkeypatch.setattr(core, "PARALLEL_MIN_SYMBOLS", 3)  # 13 chunks of symbols, 2 symbols per signal chunk
    monkeypatch.setattr(_blocks, "PARALLEL_MIN_CELLS", 1)
    for module in (core, _blocks):
        monkeypatch.setattr(module, "_workers", lambda: 1)  # every chunk in the calling thread
    serial_entries, serial_exits, serial = backtest()
    for module in (core, _blocks):
        monkeypatch.setattr(module, "_workers", lambda: 2)  # the chunks on two threads
    entries, exits, parallel = backtest()
    assert np.array_equal(entries, serial_entries) and np.array_equal(exits, serial_exits)
    _same(parallel, serial)
    _same(run(panel, entries, exits, config=config, progress=lambda fraction: None), serial)
    # cutting the symbols otherwise changes no trade (only the last bits of the summed cash series)
    _same_trades(whole, serial)


@pytest.mark.parametrize("fill", ["next_open", "close"])
@pytest.mark.parametrize("sizing", ["all_in", ("pct_equity", 0.3)])
def test_the_plain_loop_gives_the_general_loops_results(fill, sizing, monkeypatch):
    """Runs without stops or intraday entries take ``run_independent_plain`` (tight loops between
    events); the general loop computes the same steps: every output, per-account series included, is
    identical on random signals (entries and exits on the same bar, signals on missing bars, on the
    last bar) over symbols with missing bars."""
    panel = _panel(n_symbols=30, n_bars=260, seed=11)
    rng = np.random.default_rng(5)
    entries, exits = rng.random(panel.shape) < 0.06, rng.random(panel.shape) < 0.06
    entries[:, -1] = exits[:, -1] = True
    config = EngineConfig(cash=10_000_000.0, accounts="independent", fill=fill, sizing=sizing)
    markets = ["KOSPI"] * panel.n_symbols
    lots, minimums = np.ones(panel.n_symbols), np.full(panel.n_symbols, 50_000.0)

    def simulate():
        return core.simulate(panel, entries, exits, config=config, markets=markets, write_accounts=True, lots=lots,
                             min_order_values=minimums)

    plain = simulate()
    monkeypatch.setattr(core.k, "run_independent_plain", core.k.run_independent)
    general = simulate()
    assert len(plain.trades) > 100
    for name in ("symbol", "entry_bar", "exit_bar", "shares", "bars_held", "entry_price", "exit_price", "commission",
                 "tax", "cash_out", "cash_in", "mark_price"):
        assert np.array_equal(getattr(plain.trades, name), getattr(general.trades, name), equal_nan=True), name
    for name in ("cash", "holdings", "open_positions", "final_cash", "last_close", "final_shares", "valid_bars",
                 "bars_in_market", "account_max_drawdown", "account_cash", "account_holdings"):
        assert np.array_equal(getattr(plain, name), getattr(general, name), equal_nan=True), name
