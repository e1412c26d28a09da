"""The pipeline every door uses: panels from the bar store and from CSV files, then signals and engine.

No database: the bar store lives in a temporary folder.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from backtests.engine import EngineConfig, run
from backtests.pipeline import SIGNALS_SHARE, NoBarsError, panel_from_csv, panel_from_store, run_strategy
from backtests.tests.test_engine_helpers import random_walk_panel
from marketdata.calendars import KRX
from marketdata.store import BarStore
from strategies.signals import REGISTRY, ParamError, UnknownStrategyType, compute

SAMPLE_BARS = Path(__file__).resolve().parents[2] / "marketdata" / "sample_data" / "bars"
HEADER = "date,open,high,low,close,volume\n"


# --- run_strategy ----------------------------------------------------------------------------


def test_run_strategy_is_the_signals_then_the_engine():
    panel = random_walk_panel(3, 300, 7)
    config = EngineConfig(accounts="independent")
    result = run_strategy(panel, strategy_type="sma_cross", params={"fast": "5", "slow": "20"}, config=config)
    entries, exits = compute("sma_cross", close=panel.close, params={"fast": 5, "slow": 20})
    direct = run(panel, entries, exits, config=config)
    assert len(result.trades) > 3
    assert result.trades == direct.trades
    np.testing.assert_array_equal(result.equity, direct.equity)


def test_run_strategy_passes_the_intraday_entry_price_of_volatility_breakout():
    panel = random_walk_panel(2, 200, 3)
    result = run_strategy(panel, strategy_type="volatility_breakout", params={"k": 0.5},
                          config=EngineConfig(accounts="independent"))
    sig = compute("volatility_breakout", open=panel.open, high=panel.high, low=panel.low, close=panel.close,
                  params={"k": 0.5})
    table = result.trade_table
    assert len(table) > 10
    # bought on the signal's own bar at its breakout price, sold at the next bar's open
    np.testing.assert_array_equal(table.entry_price, sig.entry_price[table.symbol, table.entry_bar])
    closed = table.closed
    np.testing.assert_array_equal(table.exit_bar[closed], table.entry_bar[closed] + 1)
    np.testing.assert_array_equal(table.exit_price[closed], panel.open[table.symbol[closed], table.exit_bar[closed]])


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("accounts", ["independent", "shared"])
def test_progress_covers_signals_then_engine_and_ends_with_one(name, accounts):
    panel = random_walk_panel(3, 120, 1)
    seen: list[float] = []
    run_strategy(panel, strategy_type=name, params={}, config=EngineConfig(accounts=accounts), progress=seen.append)
    assert seen[0] == SIGNALS_SHARE and seen[-1] == 1.0 and len(seen) > 2
    assert all(later > earlier for earlier, later in zip(seen, seen[1:], strict=False))


def test_bad_parameters_raise_the_registrys_per_field_errors_before_any_work():
    panel = random_walk_panel(1, 50, 1)
    with pytest.raises(ParamError) as caught:
        run_strategy(panel, strategy_type="sma_cross", params={"fast": "30", "slow": "10"}, config=EngineConfig())
    assert caught.value.errors == {"slow": ["Must be greater than fast (30)."]}
    with pytest.raises(ParamError) as caught:
        run_strategy(panel, strategy_type="sma_cross", params={"fast": "x", "speed": 1}, config=EngineConfig())
    assert caught.value.errors["fast"] == ["Enter a whole number."]
    assert caught.value.errors["speed"] == ["Unknown parameter; known parameters: fast, slow."]
    with pytest.raises(UnknownStrategyType) as unknown:
        run_strategy(panel, strategy_type="moon_phase", params={}, config=EngineConfig())
    assert "sma_cross" in unknown.value.known


# --- panel_from_store ------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> BarStore:
    store = BarStore(tmp_path / "store", fsync=False)
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-11"))
    prices = np.arange(100.0, 110.0)
    store.write("005930", "KOSPI", days, prices, prices + 1, prices - 1, prices, np.ones(10))
    store.write("091990", "KOSDAQ", days[5:], prices[5:], prices[5:] + 1, prices[5:] - 1, prices[5:], np.ones(5))
    store.write("KRW-BTC", "CRYPTO", days[:3], prices[:3], prices[:3], prices[:3], prices[:3], np.ones(3))
    return store


def test_panel_from_store_aligns_the_codes_and_names_their_markets(store):
    panel, markets = panel_from_store(store, ["091990", "005930", "091990"], dt.date(2024, 1, 3), None)
    assert panel.symbols == ["091990", "005930"] and markets == ["KOSDAQ", "KOSPI"]
    assert str(panel.dates[0]) == "2024-01-03" and panel.n_bars == 8
    assert np.isnan(panel.close[0, :3]).all() and panel.close[0, 3] == 105.0
    whole, markets = panel_from_store(store, ["KRW-BTC"], None, None)
    assert whole.n_bars == 3 and markets == ["CRYPTO"]


def test_panel_from_store_names_codes_without_bars(store):
    with pytest.raises(NoBarsError) as caught:
        panel_from_store(store, ["005930", "999999", "KRW-BTC"], dt.date(2024, 1, 5), dt.date(2024, 1, 8))
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.codes == ["999999", "KRW-BTC"] and error.unknown == ["999999"]
    assert str(error) == ("unknown code 999999 (no bars in the bar store); "
                          "no bars between 2024-01-05 and 2024-01-08 for KRW-BTC")


def test_panel_from_store_rejects_an_empty_list_a_bad_code_and_a_reversed_period(store):
    with pytest.raises(ValueError, match="no codes given"):
        panel_from_store(store, [], None, None)
    with pytest.raises(ValueError, match="invalid instrument code"):
        panel_from_store(store, ["../etc"], None, None)
    with pytest.raises(ValueError, match="the end date 2024-01-01 is before the start date 2024-01-05"):
        panel_from_store(store, ["005930"], dt.date(2024, 1, 5), dt.date(2024, 1, 1))


# --- panel_from_csv --------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_panel_from_csv_reads_a_file_sorted_by_date(tmp_path):
    path = write(tmp_path, "005930.csv", HEADER + "2024-01-03,11,12,10,11.5,7\n2024-01-02,10,11,9,10.5,5\n")
    panel = panel_from_csv(path)
    assert panel.symbols == ["005930"]
    assert panel.dates.astype(str).tolist() == ["2024-01-02", "2024-01-03"]
    assert panel.close.tolist() == [[10.5, 11.5]] and panel.volume.tolist() == [[5.0, 7.0]]


def test_panel_from_csv_reads_a_folder_one_symbol_per_file_within_the_period(tmp_path):
    write(tmp_path, "000660.csv", HEADER + "2024-01-02,10,11,9,10,1\n2024-01-04,10,11,9,10,1\n")
    write(tmp_path, "005930.csv", "Date,Open,High,Low,Close,Volume,Extra\n2024-01-03,20,21,19,20,1,x\n"
          "2024-01-04,20,21,19,21,1,y\n")
    write(tmp_path, "notes.txt", "not bars")
    panel = panel_from_csv(tmp_path, start=dt.date(2024, 1, 3))
    assert panel.symbols == ["000660", "005930"]
    assert panel.dates.astype(str).tolist() == ["2024-01-03", "2024-01-04"]
    assert np.isnan(panel.close[0, 0]) and panel.close[1].tolist() == [20.0, 21.0]
    with pytest.raises(NoBarsError) as caught:
        panel_from_csv(tmp_path, end=dt.date(2024, 1, 2))
    assert caught.value.codes == ["005930"]
    assert str(caught.value) == "no bars up to 2024-01-02 for 005930"


@pytest.mark.parametrize(("text", "problem"), [
    ("date,open,high,low,volume\n2024-01-02,1,1,1,1\n", "005930.csv: missing columns: close"),
    (HEADER + "2024-13-02,10,11,9,10,1\n", "005930.csv row 2: date '2024-13-02' is not a date"),
    (HEADER + "2024-01-02,10,11,9,ten,1\n2024-01-03,10,11,9,10,1\n", "005930.csv row 2: close 'ten' is not a number"),
    (HEADER, "005930.csv: has no data rows"),
    ("", "005930.csv: missing columns: date, open, high, low, close, volume"),
    (HEADER + "2024-01-02,10,11,9,10,1\n2024-01-02,10,11,9,10,1\n",
     "005930.csv row 3: duplicate date 2024-01-02, already on row 2"),
    (HEADER + "2024-01-02,10,11,9,x,1\n2024-01-03,10,11,9,y,1\n2024-01-04,1,1,1,z,1\n",
     "005930.csv row 2: close 'x' is not a number (and 2 more problems)"),
])
def test_panel_from_csv_names_the_file_row_and_problem(tmp_path, text, problem):
    path = write(tmp_path, "005930.csv", text)
    with pytest.raises(ValueError) as caught:
        panel_from_csv(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_panel_from_csv_names_a_missing_path_and_an_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="no such file or folder"):
        panel_from_csv(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="folder holds no .csv or .parquet files"):
        panel_from_csv(tmp_path / "empty")


# --- the engine against a plain loop on real data -----------------------------------------------


# KOSPI sell tax by the sale's settlement date (the trade date plus two KRX trading days):
# (settled from, rate), broker-apis.md D4; 0.30 % before
KOSPI_TAX_BY_SETTLEMENT = [("2019-06-03", 0.0025), ("2021-01-01", 0.0023), ("2023-01-01", 0.0020),
                           ("2024-01-01", 0.0018), ("2025-01-01", 0.0015), ("2026-01-01", 0.0020)]


def sell_tax(day: np.datetime64) -> float:
    """KOSPI securities transaction tax on a sale that day: the rate of its settlement date."""
    settled = KRX.settlement_date(day).isoformat()
    rate = 0.0030
    for since, since_rate in KOSPI_TAX_BY_SETTLEMENT:
        if settled >= since:
            rate = since_rate
    return rate


def sma_cross_loop(dates, open_, close, fast: int, slow: int, cash: float, commission: float):
    """SMA crossover on one symbol, bar by bar with plain Python: a buy when the fast average
    rises strictly above the slow one, a sale when it falls strictly below, both at the next
    day's open, all-in integer shares. Returns ([entry bar, entry price, shares, exit bar, exit
    price], final equity)."""
    def average(t: int, window: int) -> float:
        return sum(close[t - window + 1:t + 1]) / window

    trades, shares, order = [], 0, None
    last = len(close) - 1
    for t in range(len(close)):
        if order == "buy":
            count = math.floor(cash / (open_[t] * (1 + commission)))
            if count > 0:
                cash -= count * open_[t] * (1 + commission)
                shares = count
                trades.append([t, open_[t], count, None, None])
        elif order == "sell":
            value = shares * open_[t]
            cash += value - value * commission - value * sell_tax(dates[t])
            trades[-1][3:] = [t, open_[t]]
            shares = 0
        order = None
        if slow <= t < last:
            before = average(t - 1, fast) - average(t - 1, slow)
            now = average(t, fast) - average(t, slow)
            if now > 0 >= before and shares == 0:
                order = "buy"
            elif now < 0 <= before and shares > 0:
                order = "sell"
    return trades, cash + shares * close[-1]


def test_sma_cross_on_real_samsung_bars_matches_a_plain_loop_trade_for_trade():
    panel = panel_from_csv(SAMPLE_BARS / "005930.csv")
    result = run_strategy(panel, strategy_type="sma_cross", params={"fast": 10, "slow": 30},
                          config=EngineConfig(accounts="independent"))
    closes = panel.close[0].tolist()
    expected, final_equity = sma_cross_loop(panel.dates, panel.open[0].tolist(), closes, 10, 30,
                                            10_000_000.0, 0.00015)
    table = result.trade_table
    got = [[int(table.entry_bar[i]), float(table.entry_price[i]), int(table.shares[i]),
            None if table.exit_bar[i] < 0 else int(table.exit_bar[i]),
            None if table.exit_bar[i] < 0 else float(table.exit_price[i])] for i in range(len(table))]
    assert len(expected) > 100  # 26 years of Samsung: sales at every tax rate
    assert got == expected
    assert abs(result.equity[-1] - final_equity) < 1.0


def test_the_worker_warm_up_runs_a_real_backtest_in_both_account_modes():
    from backtests.pipeline import warm_up

    assert warm_up() >= 2  # the sine wave crosses its averages: trades in each mode
