"""Intraday entries (``run(..., entry_price=...)``, what ``volatility_breakout`` needs): hand-computed
cases, the order of events in a bar, and the engine against a plain loop on random data.

Default costs: commission 0.015 % per side, KOSPI sell tax 0.18 % in 2024, no slippage.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtests.engine import Costs, EngineConfig, run
from backtests.tests.test_engine_helpers import holdings_from_trades, make_panel, random_walk_panel
from backtests.tests.test_pipeline import sell_tax
from strategies.signals import compute

# bar 1 breaks out: open 1040 + 0.5 x bar 0's range (1100 - 950) = 1115 < high 1130
A = {"open": [1000, 1040, 1125, 1130], "high": [1100, 1130, 1140, 1150],
     "low": [950, 1000, 1100, 1120], "close": [1050, 1120, 1130, 1140]}
# bar 1 breaks out: open 2010 + 0.5 x (2030 - 1990) = 2030 < high 2040
B = {"open": [2000, 2010, 2050, 2060], "high": [2030, 2040, 2060, 2070],
     "low": [1990, 1990, 2000, 2040], "close": [2010, 2020, 2055, 2065]}


def panel_of(*symbols: dict):
    return make_panel([s["close"] for s in symbols], [s["open"] for s in symbols],
                      [s["high"] for s in symbols], [s["low"] for s in symbols])


def breakout(panel, config: EngineConfig, k: float = 0.5, **kwargs):
    sig = compute("volatility_breakout", open=panel.open, high=panel.high, low=panel.low, close=panel.close,
                  params={"k": k})
    return run(panel, sig.entries, sig.exits, config=config, entry_price=sig.entry_price, **kwargs)


def test_a_breakout_buys_during_the_bar_at_its_price_and_sells_at_the_next_open():
    result = breakout(panel_of(A), EngineConfig(accounts="independent"))
    (trade,) = result.trades
    # buy during bar 1 at 1115: floor(10,000,000 / (1115 * 1.00015)) = floor(8967.26) = 8967 shares,
    # value 9,998,205, commission 1,499.73075, cash left 295.26925
    assert (trade.shares, trade.entry_price, str(trade.entry_date)) == (8967, 1115, "2024-01-03")
    assert result.cash[1] == pytest.approx(295.26925, abs=1e-6)
    assert result.equity[1] == pytest.approx(295.26925 + 8967 * 1120, abs=1e-6)
    # the exit decided on bar 1's close sells at bar 2's open 1125: value 10,087,875, commission
    # 1,513.18125, tax 18,158.175 -> cash 10,068,498.913
    assert (trade.exit_price, str(trade.exit_date), trade.exit_reason) == (1125, "2024-01-04", "signal")
    assert trade.tax == pytest.approx(18_158.175)
    assert trade.commission == pytest.approx(1499.73075 + 1513.18125)
    assert result.equity[-1] == pytest.approx(10_068_498.913, abs=1e-6)
    assert trade.holding_days == 1


def test_the_entry_price_is_used_whatever_the_fill_rule_and_the_exit_follows_the_fill_rule():
    result = breakout(panel_of(A), EngineConfig(accounts="independent", fill="close"))
    (trade,) = result.trades
    # same buy; with fill="close" the exit of bar 1 sells at bar 1's close 1120 (a same-day round trip)
    assert (trade.shares, trade.entry_price, trade.exit_price) == (8967, 1115, 1120)
    assert trade.entry_date == trade.exit_date
    value = 8967 * 1120
    assert result.equity[-1] == pytest.approx(295.26925 + value * (1 - 0.00015 - 0.0018), abs=1e-6)


def test_slippage_applies_on_top_of_the_entry_price():
    result = breakout(panel_of(A), EngineConfig(accounts="independent", costs=Costs(slippage_bps=10)))
    (trade,) = result.trades
    # cash moves at 1115 * 1.001 = 1116.115: floor(1e7 / (1116.115 * 1.00015)) = 8958 shares
    assert (trade.shares, trade.entry_price) == (8958, 1115)
    assert result.trade_table.cash_out[0] == pytest.approx(8958 * 1116.115 * 1.00015)
    # slippage reported: 8958 * 1115 * 0.001 on the buy + 8958 * 1125 * 0.001 on the sell
    assert trade.slippage == pytest.approx(8958 * 1115 * 0.001 + 8958 * 1125 * 0.001)


def test_a_shared_account_caps_the_second_entry_of_the_bar_at_the_cash_left():
    config = EngineConfig(accounts="shared", sizing=("fixed_krw", 6_000_000.0))
    result = breakout(panel_of(A, B), config)
    first, second = result.trades
    # symbol order: A takes floor(6,000,000 / (1115 * 1.00015)) = 5380 shares, 5,998,700 + 899.805
    # commission, leaving 4,000,400.195; B at 2030 is capped by that cash: floor(4,000,400.195 /
    # (2030 * 1.00015)) = 1970 shares, 3,999,100 + 599.865 commission, leaving 700.33
    assert (first.symbol, first.shares, second.symbol, second.shares) == ("900001", 5380, "900002", 1970)
    assert str(second.entry_date) == "2024-01-03" and second.entry_price == 2030
    assert result.cash[1] == pytest.approx(700.33, abs=1e-6)
    assert (result.account_cash >= 0).all()


def test_max_positions_drops_an_intraday_entry_once_the_slots_are_full():
    result = breakout(panel_of(A, B), EngineConfig(accounts="shared", sizing="equal_weight", max_positions=1))
    assert [t.symbol for t in result.trades] == ["900001"]


def intraday(panel, entries_at, exits_at=(), price=None, **config):
    """Entries (symbol, bar) -> price, exits at (symbol, bar), run with ``config``."""
    entries = np.zeros(panel.shape, dtype=bool)
    exits = np.zeros(panel.shape, dtype=bool)
    entry_price = np.full(panel.shape, np.nan)
    for (s, t), px in entries_at.items():
        entries[s, t] = True
        entry_price[s, t] = px
    for cell in exits_at:
        exits[cell] = True
    return run(panel, entries, exits, config=EngineConfig(**config), entry_price=entry_price)


def test_no_stop_is_checked_on_the_entry_bar_and_stops_apply_from_the_next_bar():
    # bar 1's low 1000 is below the 2 % stop (1092.7) but may have come before the fill at 1115
    panel = make_panel([1050, 1120, 1100, 1100], [1000, 1040, 1110, 1100], [1100, 1130, 1120, 1100],
                       [950, 1000, 1090, 1100])
    result = intraday(panel, {(0, 1): 1115.0}, accounts="independent", stop_loss=0.02)
    (trade,) = result.trades
    assert (str(trade.entry_date), str(trade.exit_date), trade.exit_reason) == ("2024-01-03", "2024-01-04",
                                                                                 "stop_loss")
    assert trade.exit_price == pytest.approx(1115 * 0.98)


def test_the_trailing_peak_takes_the_entry_bars_high_at_its_close():
    # entry at 1115, bar 1's high 1200 -> the 5 % trailing stop is 1140 on bar 2, whose low touches it
    panel = make_panel([1050, 1180, 1150, 1150], [1000, 1040, 1170, 1150], [1100, 1200, 1175, 1150],
                       [950, 1000, 1130, 1150])
    result = intraday(panel, {(0, 1): 1115.0}, accounts="independent", trailing_stop=0.05)
    (trade,) = result.trades
    assert (trade.exit_reason, str(trade.exit_date)) == ("trailing_stop", "2024-01-04")
    assert trade.exit_price == pytest.approx(1200 * 0.95)


def test_take_profit_is_not_checked_on_the_entry_bar_either():
    panel = make_panel([1050, 1300, 1300], [1000, 1040, 1300], [1100, 1400, 1300], [950, 1000, 1300])
    result = intraday(panel, {(0, 1): 1115.0}, accounts="independent", take_profit=0.1)
    (trade,) = result.trades
    # bar 1's high 1400 is above the target 1226.5 but comes with no stop check; bar 2 opens above it
    assert (trade.exit_reason, str(trade.exit_date), trade.exit_price) == ("take_profit", "2024-01-04", 1300)


def test_an_intraday_entry_on_the_last_bar_fills_and_stays_open():
    panel = make_panel([1050, 1120], [1000, 1040], [1100, 1130], [950, 1000])
    result = intraday(panel, {(0, 1): 1115.0}, exits_at=[(0, 1)], accounts="independent")
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_date, trade.shares) == ("open", None, 8967)
    assert result.equity[-1] == pytest.approx(295.26925 + 8967 * 1120, abs=1e-6)


def test_an_entry_while_long_is_ignored_and_an_open_sell_frees_the_symbol_for_a_new_entry():
    panel = panel_of(A)
    # entry bar 1 (held, no exit), entry bar 2 ignored; exit bar 2 -> sells at bar 3's open; entry bar 3
    result = intraday(panel, {(0, 1): 1115.0, (0, 2): 1126.0, (0, 3): 1135.0}, exits_at=[(0, 2)],
                      accounts="independent")
    first, second = result.trades
    assert (first.entry_price, first.exit_price, str(first.exit_date)) == (1115, 1130, "2024-01-05")
    assert (second.entry_price, str(second.entry_date), second.exit_reason) == (1135, "2024-01-05", "open")


def test_shared_account_order_open_sells_fund_entries_but_intraday_stops_do_not():
    panel = panel_of(A, B)
    # A bought on bar 1 with all the cash and sold at bar 2's open: that cash buys B during bar 2
    sold = intraday(panel, {(0, 1): 1115.0, (1, 2): 2052.0}, exits_at=[(0, 1)], accounts="shared")
    a, b = sold.trades
    assert (a.symbol, str(a.exit_date), b.symbol, str(b.entry_date)) == ("900001", "2024-01-04", "900002",
                                                                         "2024-01-04")
    # cash 10,068,498.913 after the open's sale (see the first test): floor(... / (2052 * 1.00015)) = 4905
    assert b.shares == 4905
    # A stopped during bar 2 (low 1100 <= 1115 * 0.99): B's entry of the same bar is placed first,
    # with the 295 KRW left, so it buys nothing
    stopped = intraday(panel, {(0, 1): 1115.0, (1, 2): 2052.0}, accounts="shared", stop_loss=0.01)
    (only,) = stopped.trades
    assert (only.symbol, only.exit_reason, str(only.exit_date)) == ("900001", "stop_loss", "2024-01-04")


def test_entry_price_must_be_given_for_every_entry_and_match_the_panel():
    panel = panel_of(A)
    entries = np.zeros(panel.shape, dtype=bool)
    entries[0, 1] = True
    with pytest.raises(ValueError, match="entry_price must be a positive price wherever entries is True"):
        run(panel, entries, entries.copy(), config=EngineConfig(), entry_price=np.full(panel.shape, np.nan))
    with pytest.raises(ValueError, match="entry_price has shape"):
        run(panel, entries, entries.copy(), config=EngineConfig(), entry_price=np.ones((1, 3)))


def breakout_loop(panel, k: float, cash: float, commission: float):
    """Volatility breakout for one symbol, bar by bar: buy all-in during a bar whose high clears
    open + k x the previous present bar's range (at that level, or the open when it gapped above),
    sell at the next present bar's open. A plain reading of the rules, not the engine's code."""
    o, h, lo, c = panel.open[0], panel.high[0], panel.low[0], panel.close[0]
    n = len(c)
    tax = [sell_tax(day) for day in panel.dates]
    present = [t for t in range(n) if np.isfinite([o[t], h[t], lo[t], c[t]]).all()]
    trades, shares, sell_at_open, previous = [], 0, False, None
    for t in present:
        if sell_at_open:
            value = shares * o[t]
            cash += value - value * commission - value * tax[t]
            trades[-1][3:] = [t, o[t]]
            shares, sell_at_open = 0, False
        if previous is not None and shares == 0:
            level = o[t] + k * (h[previous] - lo[previous])
            if h[t] > level:
                price = max(o[t], level)
                count = math.floor(cash / (price * (1 + commission)))
                if count > 0:
                    cash -= count * price * (1 + commission)
                    shares = count
                    trades.append([t, price, count, None, None])
        if shares > 0 and trades[-1][0] == t and t < n - 1:
            sell_at_open = True
        previous = t
    last = present[-1]
    return trades, cash + shares * c[last]


@pytest.mark.parametrize(("seed", "k", "gaps"), [(1, 0.5, False), (2, 0.3, False), (3, 0.5, True), (4, 0.8, True)])
def test_volatility_breakout_trades_match_a_plain_loop_trade_for_trade(seed, k, gaps):
    panel = random_walk_panel(3, 500, seed, start="2024-06-03")  # sells in 2024, 2025 and 2026
    if gaps:
        rng = np.random.default_rng(seed)
        arrays = {name: getattr(panel, name).copy() for name in ("open", "high", "low", "close")}
        missing = rng.random(panel.shape) < 0.1
        for array in arrays.values():
            array[missing] = np.nan
        panel = make_panel(arrays["close"], arrays["open"], arrays["high"], arrays["low"], start="2024-06-03")
    result = breakout(panel, EngineConfig(accounts="independent"), k=k)
    table = result.trade_table
    account_equity = result.account_equity[:, -1]
    for s in range(panel.n_symbols):
        one = make_panel(panel.close[s], panel.open[s], panel.high[s], panel.low[s], start="2024-06-03")
        expected, final_equity = breakout_loop(one, k, 10_000_000.0, 0.00015)
        mine = np.flatnonzero(table.symbol == s)
        got = [[int(table.entry_bar[i]), table.entry_price[i], int(table.shares[i]),
                None if table.exit_bar[i] < 0 else int(table.exit_bar[i]),
                None if table.exit_bar[i] < 0 else table.exit_price[i]] for i in mine]
        assert len(expected) > 20
        assert got == expected
        assert abs(account_equity[s] - final_equity) < 1.0
    np.testing.assert_allclose(result.equity - result.cash, holdings_from_trades(result), rtol=1e-9)
