"""Metrics on known curves, the tax table, the panel layout, and the engine against a plain loop."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from backtests.engine import EngineConfig, Panel, run, sell_tax_rate, sell_tax_rate_settled
from backtests.engine.metrics import drawdown, equity_metrics, trade_metrics
from backtests.tests.test_engine_helpers import random_walk_panel, sma_cross
from marketdata.store import BarSet


def test_max_drawdown_value_and_dates_on_a_known_curve():
    dates = np.array(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], dtype="datetime64[D]")
    result = equity_metrics(np.array([110.0, 99.0, 121.0, 96.8]), dates, 100.0, 252)
    # peaks 110, 110, 121, 121 -> drawdowns 0, -10 %, 0, -20 %: the worst is 121 -> 96.8
    np.testing.assert_allclose(drawdown(np.array([110.0, 99.0, 121.0, 96.8]), 100.0), [0, -0.1, 0, -0.2])
    assert result["max_drawdown"] == pytest.approx(-0.2)
    assert (result["max_drawdown_peak"], result["max_drawdown_trough"]) == (dt.date(2024, 1, 4), dt.date(2024, 1, 5))
    assert result["total_return"] == pytest.approx(-0.032)


def test_cagr_uses_calendar_years_between_first_and_last_date():
    dates = np.array(["2020-01-01", "2022-01-01"], dtype="datetime64[D]")
    result = equity_metrics(np.array([100.0, 121.0]), dates, 100.0, 252)
    # 731 days = 2.0014 years: 1.21 ** (1 / 2.0014) - 1 = 9.99 %
    assert result["cagr"] == pytest.approx(1.21 ** (365.25 / 731) - 1)
    assert result["calmar"] != result["calmar"]  # no drawdown: undefined (NaN)


def test_sharpe_and_sortino_from_daily_returns():
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-05"))
    equity = np.array([110.0, 99.0, 108.9, 98.01])  # returns +10 %, -10 %, +10 %, -10 %
    result = equity_metrics(equity, dates, 100.0, 252)
    r = np.array([0.1, -0.1, 0.1, -0.1])
    assert result["volatility"] == pytest.approx(np.std(r, ddof=1) * math.sqrt(252))
    assert result["sharpe"] == pytest.approx(0.0, abs=1e-12)
    assert result["sortino"] == pytest.approx(0.0, abs=1e-12)


def test_trade_metrics_on_known_trades():
    result = trade_metrics(np.array([0.1, -0.05, 0.2]), np.array([100.0, -50.0, 200.0]), np.array([3, 1, 5]))
    assert result["win_rate"] == pytest.approx(2 / 3)
    assert result["avg_win"] == pytest.approx(0.15) and result["avg_loss"] == pytest.approx(-0.05)
    assert result["profit_factor"] == pytest.approx(6.0)  # 300 / 50
    assert result["expectancy"] == pytest.approx(250 / 3)
    assert result["avg_holding_days"] == pytest.approx(3.0)


def test_sell_tax_table_by_market_and_settlement_date():
    # the last settlement day of each rate and the first of the next (broker-apis.md D4)
    settled = ["2019-06-02", "2019-06-03", "2020-12-31", "2021-01-01", "2022-12-31", "2023-01-01",
               "2023-12-31", "2024-01-01", "2024-12-31", "2025-01-01", "2025-12-31", "2026-01-01"]
    equity = [0.0030, 0.0025, 0.0025, 0.0023, 0.0023, 0.0020, 0.0020, 0.0018, 0.0018, 0.0015, 0.0015, 0.0020]
    np.testing.assert_allclose(sell_tax_rate_settled("KOSPI", settled), equity)
    np.testing.assert_allclose(sell_tax_rate_settled("kosdaq", settled), equity)
    np.testing.assert_allclose(sell_tax_rate_settled("KONEX", settled), [0.0030] + [0.0010] * 11)
    np.testing.assert_allclose(sell_tax_rate_settled("CRYPTO", settled), [0.0] * 12)
    np.testing.assert_allclose(sell_tax_rate_settled("KOSPI", ["2010-05-03"]), [0.0030])  # earlier: the first rate
    with pytest.raises(ValueError, match="unknown market"):
        sell_tax_rate("NYSE", settled)


# (last sell executed at the old rate, its rate), (first sell at the new rate, its rate): the trade
# date plus two KRX trading days crosses each change of the rate
TAX_BOUNDARIES = [
    ("2019-05-29", 0.0030), ("2019-05-30", 0.0025),  # settled 2019-05-31 / 2019-06-03
    ("2020-12-28", 0.0025), ("2020-12-29", 0.0023),  # 2020-12-30 / 2021-01-04 (12-31 and 01-01 closed)
    ("2022-12-27", 0.0023), ("2022-12-28", 0.0020),  # 2022-12-29 / 2023-01-02 (12-30 closed)
    ("2023-12-26", 0.0020), ("2023-12-27", 0.0018),  # 2023-12-28 / 2024-01-02 (12-29 closed)
    ("2024-12-26", 0.0018), ("2024-12-27", 0.0015),  # 2024-12-30 / 2025-01-02
    ("2025-12-26", 0.0015), ("2025-12-29", 0.0020),  # 2025-12-30 / 2026-01-02
]


@pytest.mark.parametrize(("sold", "rate"), TAX_BOUNDARIES)
def test_sell_tax_rate_follows_the_settlement_date_of_the_sell(sold, rate):
    assert sell_tax_rate("KOSPI", [sold])[0] == rate
    assert sell_tax_rate("KOSDAQ", np.array([sold], dtype="datetime64[D]"))[0] == rate
    assert sell_tax_rate("KONEX", [sold])[0] == (0.0030 if sold == "2019-05-29" else 0.0010)
    assert sell_tax_rate("CRYPTO", [sold])[0] == 0.0


def test_panel_from_barset_aligns_on_the_union_of_dates():
    day = np.datetime64("2024-01-02")
    barset = BarSet(
        codes=["000001", "000002"],
        offsets=np.array([0, 2, 3]),
        date=np.array([day, day + 2, day + 1]),
        open=np.array([1.0, 3.0, 20.0]), high=np.array([1.0, 3.0, 20.0]), low=np.array([1.0, 3.0, 20.0]),
        close=np.array([1.5, 3.5, 20.5]), volume=np.array([10.0, 30.0, 200.0]), value=np.full(3, np.nan),
    )
    panel = Panel.from_barset(barset)
    assert panel.shape == (2, 3) and panel.symbols == ["000001", "000002"]
    np.testing.assert_array_equal(panel.dates, [day, day + 1, day + 2])
    np.testing.assert_array_equal(panel.close, [[1.5, np.nan, 3.5], [np.nan, 20.5, np.nan]])


def reference_loop(panel: Panel, entries: np.ndarray, exits: np.ndarray, cash: float, commission: float):
    """Straightforward one-symbol loop: next-open fills, all-in integer shares, KOSPI sell tax."""
    o, c = panel.open[0], panel.close[0]
    tax = sell_tax_rate("KOSPI", panel.dates)
    trades, shares, pending = [], 0, None
    for t in range(len(c)):
        if pending == "buy":
            shares = math.floor(cash / (o[t] * (1 + commission)))
            if shares > 0:
                cash -= shares * o[t] * (1 + commission)
                trades.append([t, o[t], shares, None, None])
        elif pending == "sell":
            value = shares * o[t]
            cash += value - value * commission - value * tax[t]
            trades[-1][3:] = [t, o[t]]
            shares = 0
        pending = None
        if t < len(c) - 1 and entries[0, t] != exits[0, t]:
            if entries[0, t] and shares == 0:
                pending = "buy"
            elif exits[0, t] and shares > 0:
                pending = "sell"
    return trades, cash + shares * c[-1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sma_cross_trades_match_a_plain_loop_trade_for_trade(seed):
    panel = random_walk_panel(1, 600, seed, start="2024-03-04")  # sells in 2024, 2025 and 2026
    entries, exits = sma_cross(panel.close, 10, 30)
    result = run(panel, entries, exits, config=EngineConfig(accounts="independent"))
    expected, final_equity = reference_loop(panel, entries, exits, 10_000_000.0, 0.00015)
    table = result.trade_table
    got = [[int(table.entry_bar[i]), table.entry_price[i], int(table.shares[i]),
            None if table.exit_bar[i] < 0 else int(table.exit_bar[i]),
            None if table.exit_bar[i] < 0 else table.exit_price[i]] for i in range(len(table))]
    assert len(expected) > 5
    assert got == expected
    assert abs(result.equity[-1] - final_equity) < 1.0


def test_the_summary_without_benchmark_skips_its_simulation_and_keeps_every_other_metric():
    from backtests.engine.report import summary_metrics

    panel = random_walk_panel(3, 300, seed=11)
    entries, exits = sma_cross(panel.close, 5, 20)
    lean = run(panel, entries, exits, config=EngineConfig())
    summary = summary_metrics(lean, with_benchmark=False)
    assert "benchmark" not in lean.__dict__  # the buy-and-hold simulation never ran
    full = run(panel, entries, exits, config=EngineConfig()).metrics
    assert set(full) - set(summary) == {"benchmark", "excess_return"}
    assert summary["total_return"] == full["total_return"] and summary["trades"] == full["trades"]
