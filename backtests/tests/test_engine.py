"""Hand-computed cases for every execution rule of the backtest engine (issue 4).

Default costs: commission 0.015 % per side, KOSPI sell tax by settlement date (0.18 % in 2024), no slippage.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from backtests.engine import Costs, EngineConfig, run
from backtests.tests.test_engine_helpers import holdings_from_trades, make_panel, signals

INDEPENDENT = EngineConfig(accounts="independent")
OPEN = [1000, 1010, 1020, 1030, 1040]
CLOSE = [1005, 1015, 1025, 1035, 1045]


def one_trade(fill: str, start: str = "2024-01-02", **config):
    panel = make_panel(CLOSE, OPEN, start=start)
    entries, exits = signals((5,), entries=[0], exits=[2])
    return run(panel, entries, exits, config=EngineConfig(fill=fill, **config))


def test_one_trade_next_open_pays_commission_both_sides_and_tax_on_the_sell():
    result = one_trade("next_open")
    (trade,) = result.trades
    # buy at bar 1's open 1010: floor(10,000,000 / (1010 * 1.00015)) = floor(9899.50) = 9899 shares
    # value 9899 * 1010 = 9,997,990; commission 1,499.6985; cash left 510.3015 (no tax on a buy)
    assert (trade.shares, trade.entry_price, str(trade.entry_date)) == (9899, 1010, "2024-01-03")
    assert result.cash[1] == pytest.approx(510.3015, abs=1e-6)
    # exit signal at bar 2 -> sell at bar 3's open 1030: value 10,195,970; commission 1,529.3955;
    # tax 0.18 % (2024) 18,352.746; cash 510.3015 + 10,195,970 - 1,529.3955 - 18,352.746 = 10,176,598.16
    assert (trade.exit_price, str(trade.exit_date), trade.exit_reason) == (1030, "2024-01-05", "signal")
    assert trade.commission == pytest.approx(1499.6985 + 1529.3955)
    assert trade.tax == pytest.approx(18352.746)
    assert result.cash[-1] == pytest.approx(10_176_598.16, abs=1e-6)
    assert result.equity[-1] == pytest.approx(10_176_598.16, abs=1e-6)
    assert trade.gross_return == pytest.approx(1030 / 1010 - 1)
    assert trade.net_return == pytest.approx((10_195_970 - 1529.3955 - 18352.746) / (9_997_990 + 1499.6985) - 1)
    assert trade.holding_days == 2
    costs = result.metrics["costs"]
    assert costs["tax"] == pytest.approx(18352.746) and costs["slippage"] == 0


def test_one_trade_close_fill():
    result = one_trade("close")
    (trade,) = result.trades
    # buy at bar 0's close 1005: floor(1e7 / (1005 * 1.00015)) = floor(9948.75) = 9948 shares;
    # 9,997,740 + commission 1,499.661 -> cash 760.339. Sell at bar 2's close 1025: 10,196,700
    # - commission 1,529.505 - tax 18,354.06 -> cash 10,177,576.774
    assert (trade.shares, trade.entry_price, trade.exit_price) == (9948, 1005, 1025)
    assert (str(trade.entry_date), str(trade.exit_date)) == ("2024-01-02", "2024-01-04")
    assert result.cash[0] == pytest.approx(760.339, abs=1e-6)
    assert result.equity[-1] == pytest.approx(10_177_576.774, abs=1e-6)


@pytest.mark.parametrize(("start", "rate"), [("2024-06-03", 0.0018), ("2025-06-02", 0.0015), ("2026-06-01", 0.0020)])
def test_kospi_sell_tax_follows_the_year_of_the_sale(start, rate):
    (trade,) = one_trade("next_open", start=start).trades
    assert trade.tax == pytest.approx(9899 * 1030 * rate)


@pytest.mark.parametrize(("sold", "rate"), [
    ("2019-05-29", 0.0030), ("2019-05-30", 0.0025),  # settled 2019-05-31 / 2019-06-03
    ("2020-12-28", 0.0025), ("2020-12-29", 0.0023),  # 2020-12-30 / 2021-01-04
    ("2022-12-27", 0.0023), ("2022-12-28", 0.0020),  # 2022-12-29 / 2023-01-02
    ("2023-12-26", 0.0020), ("2023-12-27", 0.0018),  # 2023-12-28 / 2024-01-02
    ("2024-12-26", 0.0018), ("2024-12-27", 0.0015),  # 2024-12-30 / 2025-01-02
    ("2025-12-26", 0.0015), ("2025-12-29", 0.0020),  # 2025-12-30 / 2026-01-02
])
def test_the_sell_tax_is_the_rate_of_the_settlement_date_on_both_sides_of_each_change(sold, rate):
    start = str(np.datetime64(sold) - 3)  # the sell fills at bar 3's open
    (trade,) = one_trade("next_open", start=start).trades
    assert str(trade.exit_date) == sold
    assert trade.tax == pytest.approx(9899 * 1030 * rate)


@pytest.mark.parametrize(("sold", "rate"), [("2019-05-29", 0.0030), ("2019-05-30", 0.0010)])
def test_konex_sell_tax_before_and_after_its_2019_cut(sold, rate):
    panel = make_panel(CLOSE, OPEN, start=str(np.datetime64(sold) - 3))
    entries, exits = signals((5,), entries=[0], exits=[2])
    (trade,) = run(panel, entries, exits, config=EngineConfig(), markets=["KONEX"]).trades
    assert trade.tax == pytest.approx(9899 * 1030 * rate)


def test_fixed_sell_tax_overrides_the_table_and_konex_has_its_own_rate():
    (fixed,) = one_trade("next_open", costs=Costs(sell_tax=0.001)).trades
    assert fixed.tax == pytest.approx(9899 * 1030 * 0.001)
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[0], exits=[2])
    (konex,) = run(panel, entries, exits, config=EngineConfig(), markets=["KONEX"]).trades
    assert konex.tax == pytest.approx(9899 * 1030 * 0.001)
    (crypto,) = run(panel, entries, exits, config=EngineConfig(), markets=["CRYPTO"]).trades
    assert crypto.tax == 0


def test_all_in_sizing_buys_the_floor_of_cash_over_price_with_costs():
    panel = make_panel([333, 333, 333], [333, 333, 333])
    entries, exits = signals((3,), entries=[0])
    result = run(panel, entries, exits, config=EngineConfig(cash=1_000_000))
    # floor(1,000,000 / (333 * 1.00015)) = floor(3002.55) = 3002
    assert result.trades[0].shares == 3002
    assert result.cash[1] == pytest.approx(1_000_000 - 3002 * 333 * 1.00015)


def test_slippage_moves_both_fills_against_the_trader():
    costs = Costs(commission=0.0, slippage_bps=10, sell_tax=0.0)
    (trade,) = one_trade("next_open", costs=costs).trades
    # buy at 1010 * 1.001 = 1011.01: floor(1e7 / 1011.01) = 9891; sell at 1030 * 0.999 = 1028.97
    assert trade.shares == 9891
    assert trade.slippage == pytest.approx(9891 * 1010 * 0.001 + 9891 * 1030 * 0.001)
    assert trade.pnl == pytest.approx(9891 * (1028.97 - 1011.01))
    assert (trade.entry_price, trade.exit_price) == (1010, 1030)  # reference prices, slippage shown as a cost


def test_cash_is_never_negative_and_shares_are_integers_when_cash_is_tight():
    # 10 shares cost 10 * 1000 * 1.00015 = 10,001.5: a cent less buys 9
    panel = make_panel([1000, 1000, 1000], [1000, 1000, 1000])
    entries, exits = signals((3,), entries=[0])
    for cash, expected in ((10_001.49, 9), (10_001.51, 10)):
        result = run(panel, entries, exits, config=EngineConfig(cash=cash))
        assert result.trades[0].shares == expected
        assert result.cash.min() >= 0


def test_an_entry_signal_on_the_last_bar_is_dropped():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[4])
    for fill in ("next_open", "close"):
        result = run(panel, entries, exits, config=EngineConfig(fill=fill))
        assert result.trades == []
        assert result.equity[-1] == 10_000_000


def test_an_entry_while_long_and_an_exit_while_flat_are_ignored():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[0, 2], exits=[3])
    result = run(panel, entries, exits, config=EngineConfig())
    (trade,) = result.trades
    assert (trade.entry_price, trade.exit_price) == (1010, 1040)  # entry at bar 2 ignored, exit at bar 3
    flat_exit = signals((5,), exits=[0])
    assert run(panel, *flat_exit, config=EngineConfig()).trades == []


def test_entry_and_exit_on_the_same_bar_cancel_out():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[1], exits=[1])
    assert run(panel, entries, exits, config=EngineConfig()).trades == []


def stop_case(open_, high, low, close, **config):
    panel = make_panel(close, open_, high, low)
    entries, exits = signals((len(close),), entries=[0])
    return run(panel, entries, exits, config=EngineConfig(**config))


def test_a_bar_gapping_through_the_stop_fills_at_its_open():
    # entry at bar 1's open 1000, stop 10 % -> 900; bar 2 opens at 850, below the stop
    (trade,) = stop_case([1000, 1000, 850, 860], [1000, 1010, 870, 870], [1000, 990, 840, 850],
                         [1000, 1000, 860, 860], stop_loss=0.1).trades
    assert (trade.exit_price, str(trade.exit_date), trade.exit_reason) == (850, "2024-01-04", "stop_loss")


def test_a_stop_touched_inside_the_bar_fills_at_the_stop_price():
    (trade,) = stop_case([1000, 1000, 950, 900], [1000, 1010, 960, 910], [1000, 990, 880, 890],
                         [1000, 1000, 900, 900], stop_loss=0.1).trades
    assert (trade.exit_price, trade.exit_reason, trade.holding_days) == (900, "stop_loss", 1)


def test_take_profit_fills_at_the_target_or_at_a_gap_open_above_it():
    touched = stop_case([1000, 1000, 1100, 1100], [1000, 1010, 1250, 1100], [1000, 990, 1090, 1090],
                        [1000, 1000, 1100, 1100], take_profit=0.2).trades[0]
    assert (touched.exit_price, touched.exit_reason) == (1200, "take_profit")
    gapped = stop_case([1000, 1000, 1300, 1300], [1000, 1010, 1310, 1300], [1000, 990, 1290, 1290],
                       [1000, 1000, 1300, 1300], take_profit=0.2).trades[0]
    assert (gapped.exit_price, gapped.exit_reason) == (1300, "take_profit")


def test_trailing_stop_follows_the_highest_high_since_entry():
    # entry 1000 at bar 1's open; bar 1's low 950 > 900 (trail from the entry price during the entry
    # bar); its high 1100 lifts the peak: bar 2's stop is 990, its low 980 touches it
    (trade,) = stop_case([1000, 1000, 1050, 1000], [1000, 1100, 1060, 1000], [1000, 950, 980, 1000],
                         [1000, 1050, 1000, 1000], trailing_stop=0.1).trades
    assert (trade.exit_price, trade.exit_reason) == (pytest.approx(990), "trailing_stop")


def test_stop_loss_wins_over_take_profit_when_one_bar_touches_both():
    (trade,) = stop_case([1000, 1000, 1000], [1000, 1010, 1300], [1000, 990, 800], [1000, 1000, 1000],
                         stop_loss=0.1, take_profit=0.2).trades
    assert trade.exit_reason == "stop_loss"


def test_max_holding_days_exits_at_the_close_of_the_nth_bar_after_entry():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[0])
    (trade,) = run(panel, entries, exits, config=EngineConfig(max_holding_days=2)).trades
    # entry at bar 1's open, bars 2 and 3 follow -> exit at bar 3's close 1035
    assert (trade.exit_price, str(trade.exit_date), trade.exit_reason, trade.holding_days) == (
        1035, "2024-01-05", "max_holding", 2)


def test_a_symbol_with_missing_days_fills_at_its_next_bar_and_never_trades_on_a_gap():
    nan = math.nan
    panel = make_panel([CLOSE, [1005, nan, nan, 1035, 1045]], [OPEN, [1000, nan, nan, 1030, 1040]])
    entries, exits = signals((2, 5), entries=[(0, 0), (1, 0), (1, 1)], exits=[(1, 2)])
    result = run(panel, entries, exits, config=INDEPENDENT)
    gappy = [trade for trade in result.trades if trade.symbol == "900002"]
    # the entry of bar 0 waits for bar 3 (bars 1-2 missing); signals on missing days are ignored
    assert [(str(t.entry_date), t.entry_price, t.exit_date) for t in gappy] == [("2024-01-05", 1030, None)]
    assert result.account_equity[1, :3].tolist() == [10_000_000] * 3
    has_bar = panel.has_bar
    table = result.trade_table
    assert has_bar[table.symbol, table.entry_bar].all()


def test_an_open_position_is_marked_to_the_last_close_with_an_empty_exit():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[0])
    result = run(panel, entries, exits, config=EngineConfig())
    (trade,) = result.trades
    assert (trade.exit_date, trade.exit_price, trade.exit_reason) == (None, None, "open")
    assert result.equity[-1] == pytest.approx(510.3015 + 9899 * 1045)  # no sell costs on the mark
    assert result.metrics["trades"] == 0 and result.metrics["open_trades"] == 1


def test_independent_accounts_give_each_symbol_the_full_capital():
    panel = make_panel([CLOSE, CLOSE], [OPEN, OPEN])
    entries, exits = signals((2, 5), entries=[(0, 0), (1, 0)])
    result = run(panel, entries, exits, config=INDEPENDENT)
    assert [trade.shares for trade in result.trades] == [9899, 9899]
    assert result.metrics["initial_equity"] == 20_000_000
    assert [row["final_equity"] for row in result.per_symbol] == [pytest.approx(510.3015 + 9899 * 1045)] * 2
    np.testing.assert_allclose(result.account_equity.sum(axis=0), result.equity)


def test_shared_account_shares_cash_in_symbol_order_and_respects_max_positions():
    panel = make_panel([CLOSE, CLOSE, CLOSE], [OPEN, OPEN, OPEN])
    entries, exits = signals((3, 5), entries=[(0, 0), (1, 0), (2, 0)])
    all_in = run(panel, entries, exits, config=EngineConfig(accounts="shared"))
    assert [(t.symbol, t.shares) for t in all_in.trades] == [("900001", 9899)]  # nothing left for the rest
    equal = run(panel, entries, exits,
                config=EngineConfig(accounts="shared", sizing="equal_weight", max_positions=2))
    # each position gets equity / max_positions = 5,000,000: floor(5e6 / (1010 * 1.00015)) = 4949
    assert [(t.symbol, t.shares) for t in equal.trades] == [("900001", 4949), ("900002", 4949)]
    assert equal.cash.min() >= 0
    fixed = run(panel, entries, exits, config=EngineConfig(accounts="shared", sizing=("fixed_krw", 4_000_000)))
    # floor(4e6 / (1010 * 1.00015)) = 3959 for the first two (7,998,979.39 with commission); the third
    # is capped by the 2,001,020.61 left: floor(2,001,020.61 / 1010.1515) = 1981
    assert [t.shares for t in fixed.trades] == [3959, 3959, 1981]
    assert fixed.cash.min() >= 0


def test_equity_is_cash_plus_holdings_every_day():
    panel = make_panel([CLOSE, [1005, math.nan, 1020, 1030, 1000]], [OPEN, [1000, math.nan, 1010, 1025, 1010]])
    entries, exits = signals((2, 5), entries=[(0, 0), (1, 0)], exits=[(0, 2)])
    for accounts in ("independent", "shared"):
        result = run(panel, entries, exits, config=EngineConfig(accounts=accounts, sizing=("pct_equity", 0.4)))
        np.testing.assert_allclose(result.equity - result.cash, holdings_from_trades(result), rtol=1e-12)


def test_changing_future_bars_does_not_change_the_past():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[1], exits=[3])
    before = run(panel, entries, exits, config=EngineConfig())
    shocked = make_panel(CLOSE[:2] + [2000, 2000, 2000], OPEN[:2] + [500, 500, 500])
    after = run(shocked, entries, exits, config=EngineConfig())
    np.testing.assert_array_equal(before.equity[:2], after.equity[:2])
    # the decision of bar 1 is the same order; only its fill price (bar 2's open) differs
    assert before.trades[0].entry_date == after.trades[0].entry_date


def test_benchmark_buys_and_holds_the_universe_with_the_same_costs():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,), entries=[2])
    bench = run(panel, entries, exits, config=EngineConfig()).benchmark["metrics"]
    assert bench["final_equity"] == pytest.approx(510.3015 + 9899 * 1045)


def test_progress_reports_fractions_up_to_one():
    panel = make_panel([CLOSE] * 3, [OPEN] * 3)
    entries, exits = signals((3, 5), entries=[(0, 0)])
    for accounts in ("independent", "shared"):
        seen: list[float] = []
        run(panel, entries, exits, config=EngineConfig(accounts=accounts), progress=seen.append)
        assert seen == sorted(seen) and seen[-1] == 1.0


def test_bad_inputs_are_rejected_with_the_field_name():
    panel = make_panel(CLOSE, OPEN)
    entries, exits = signals((5,))
    with pytest.raises(ValueError, match="entries"):
        run(panel, entries[:, :3], exits, config=EngineConfig())
    with pytest.raises(ValueError, match="markets"):
        run(panel, entries, exits, config=EngineConfig(), markets=["KOSPI", "KOSDAQ"])
    for field, value in (("stop_loss", 1.5), ("fill", "vwap"), ("max_positions", 0), ("cash", -1)):
        with pytest.raises(ValueError, match=field):
            EngineConfig(**{field: value})
    with pytest.raises(ValueError, match="pct_equity"):
        EngineConfig(sizing=("pct_equity", 10))


@pytest.mark.parametrize(("n_sym", "n_bars"), [(0, 5), (2, 0), (1, 1)])
def test_degenerate_panels_run_without_trades(n_sym, n_bars):
    ones = np.ones((n_sym, n_bars))
    panel = make_panel(ones, ones, symbols=[str(i) for i in range(n_sym)]) if n_sym and n_bars else None
    if panel is None:
        from backtests.engine import Panel

        panel = Panel(open=ones, high=ones, low=ones, close=ones, volume=ones,
                      dates=np.datetime64("2024-01-01") + np.arange(n_bars), symbols=[str(i) for i in range(n_sym)])
    for accounts in ("independent", "shared"):
        result = run(panel, ones.astype(bool), np.zeros_like(ones, dtype=bool), config=EngineConfig(accounts=accounts))
        assert result.trades == [] and len(result.per_symbol) == n_sym
        assert isinstance(result.metrics, dict)
