"""Quantities in lots: KRW-BTC with 10,000,000 KRW buys a fraction of a coin; stocks keep whole shares."""

from __future__ import annotations

import numpy as np
import pytest

from backtests.engine import Costs, EngineConfig, Panel, run
from backtests.pipeline import run_strategy, symbol_lots
from backtests.tests.conftest import read_sample
from backtests.tests.test_engine_helpers import make_panel, random_walk_panel, signals, sma_cross

BTC_LOT, UPBIT_MINIMUM = 1e-8, 5000.0
CRYPTO = Costs(commission=0.0005)


def btc_panel() -> Panel:
    bars = read_sample("KRW-BTC")
    return Panel(open=bars["open"][None], high=bars["high"][None], low=bars["low"][None], close=bars["close"][None],
                 volume=bars["volume"][None], dates=bars["date"], symbols=["KRW-BTC"])


def test_krw_btc_with_ten_million_won_buys_fractions_of_a_coin():
    panel = btc_panel()
    assert panel.close[0, 0] > 10_000_000  # one whole coin is beyond the capital
    result = run_strategy(panel, strategy_type="sma_cross", params={"fast": 10, "slow": 30},
                          config=EngineConfig(cash=10_000_000.0, costs=CRYPTO, periods_per_year=365),
                          markets=["CRYPTO"])
    t = result.trade_table
    assert len(t) > 10
    assert np.all((t.shares > 0) & (t.shares < 1))
    # every quantity is a whole number of 1e-8 lots (Upbit's 8 decimals)
    assert np.allclose(np.round(t.shares / BTC_LOT) * BTC_LOT, t.shares, rtol=0, atol=1e-12)
    # all-in: each buy spends the cash to within one lot (commission included), never more
    first = result.trades[0]
    fill = panel.open[0, t.entry_bar[0]]
    assert t.cash_out[0] <= 10_000_000.0
    assert 10_000_000.0 - t.cash_out[0] < fill * BTC_LOT * 1.0005 + 1e-6
    assert first.shares == round(first.shares, 8) and 0.1 < first.shares < 0.5
    # the accounts add up: final equity = capital + every trade's P&L (closed at their net proceeds)
    closed = t.closed
    assert np.allclose(t.pnl[closed], t.cash_in[closed] - t.cash_out[closed])
    assert result.equity[-1] == pytest.approx(10_000_000.0 + t.pnl.sum(), rel=1e-12)
    assert result.metrics["total_return"] == pytest.approx(t.pnl.sum() / 10_000_000.0, rel=1e-9)
    assert result.equity[-1] > 10_000_000.0  # the sample's bull run: a positive P&L
    # and the trades list shows the quantities rounded to the lot's 8 decimals
    assert all(trade.shares == round(trade.shares, 8) for trade in result.trades)


def test_crypto_bars_trade_on_weekends():
    # 2024-01-05 is a Friday: a signal on Friday's close fills at Saturday's open, sold on Sunday's
    panel = make_panel([100.0, 101.0, 102.0, 103.0, 104.0], open_=[100.0, 101.0, 102.0, 103.0, 104.0],
                       start="2024-01-04", symbols=["KRW-BTC"])
    entries, exits = signals(panel.shape, entries=[1], exits=[2])
    result = run(panel, entries, exits, config=EngineConfig(cash=10_000.0, costs=Costs(commission=0.0)),
                 markets=["CRYPTO"], lot_sizes=[BTC_LOT], min_order_values=[UPBIT_MINIMUM])
    (trade,) = result.trades
    assert (str(trade.entry_date), str(trade.exit_date)) == ("2024-01-06", "2024-01-07")  # Saturday, Sunday
    assert trade.entry_date.weekday() == 5
    assert trade.shares == pytest.approx(10_000.0 / 102.0, abs=BTC_LOT)
    assert trade.shares != int(trade.shares)


# 5,000 KRW buys floor(5,000 / 90,000,000 / 1e-8) = 5,555 lots = 4,999.5 KRW: below the minimum
@pytest.mark.parametrize(("budget", "trades"), [(4_999.0, 0), (5_000.0, 0), (5_001.0, 1), (6_000.0, 1)])
def test_no_buy_below_the_minimum_order_value(budget, trades):
    panel = make_panel([90_000_000.0] * 4, symbols=["KRW-BTC"])
    entries, exits = signals(panel.shape, entries=[0])
    config = EngineConfig(cash=1_000_000.0, costs=Costs(commission=0.0), sizing=("fixed_krw", budget))
    result = run(panel, entries, exits, config=config, markets=["CRYPTO"], lot_sizes=[BTC_LOT],
                 min_order_values=[UPBIT_MINIMUM])
    assert len(result.trades) == trades
    if trades:
        assert result.trade_table.cash_out[0] >= UPBIT_MINIMUM
        assert result.trade_table.cash_out[0] <= budget
    # without a minimum the 4,999 KRW order is placed
    free = run(panel, entries, exits, config=config, markets=["CRYPTO"], lot_sizes=[BTC_LOT])
    assert len(free.trades) == 1


@pytest.mark.parametrize("accounts", ["shared", "independent"])
def test_lots_of_one_leave_a_stock_run_trade_for_trade_unchanged(accounts):
    panel = random_walk_panel(6, 400, seed=7)
    entries, exits = sma_cross(panel.close, 5, 20)
    config = EngineConfig(accounts=accounts, sizing="equal_weight" if accounts == "shared" else "all_in",
                          costs=Costs(commission=0.00015, slippage_bps=5.0), stop_loss=0.05)
    before = run(panel, entries, exits, config=config)
    stock = run(panel, entries, exits, config=config, lot_sizes=[1.0] * 6, min_order_values=[0.0] * 6)
    a, b = before.trade_table, stock.trade_table
    assert len(a) > 30
    for name in ("symbol", "entry_bar", "exit_bar", "shares", "entry_price", "exit_price", "commission", "tax",
                 "slippage", "cash_out", "cash_in"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert np.array_equal(before.equity, stock.equity)
    assert all(isinstance(trade.shares, int) for trade in stock.trades)
    # a stock run through the pipeline (markets KOSPI) trades the same whole shares
    piped = run_strategy(panel, strategy_type="sma_cross", params={"fast": 5, "slow": 20}, config=config,
                         markets=["KOSPI"] * 6)
    assert [trade.shares for trade in piped.trades] == [int(q) for q in piped.trade_table.shares]


def test_a_stock_in_a_mixed_universe_keeps_whole_shares_while_crypto_takes_fractions():
    panel = make_panel([[50_000.0, 51_000.0, 52_000.0, 53_000.0], [90_000_000.0, 91_000_000.0, 92_000_000.0,
                                                                     93_000_000.0]], symbols=["005930", "KRW-BTC"])
    entries, exits = signals(panel.shape, entries=[(0, 0), (1, 0)])
    result = run(panel, entries, exits, config=EngineConfig(accounts="independent", costs=Costs(commission=0.0)),
                 markets=["KOSPI", "CRYPTO"], lot_sizes=[1.0, BTC_LOT], min_order_values=[0.0, UPBIT_MINIMUM])
    stock, coin = result.trades
    assert stock.shares == 196 and isinstance(stock.shares, int)  # floor(10,000,000 / 51,000)
    assert coin.shares == pytest.approx(0.10989010, abs=BTC_LOT)  # floor(10,000,000 / 91,000,000 / 1e-8) lots
    assert result.arrays.final_shares[1] == pytest.approx(0.10989010, abs=BTC_LOT)


def test_market_defaults_and_the_master_for_lots():
    lots, minimums = symbol_lots(["005930", "KRW-BTC", "KRW-ETH"], ["KOSPI", "CRYPTO", "CRYPTO"],
                                 {"KRW-ETH": (0.0001, 5000.0)})
    assert lots.tolist() == [1.0, 1e-8, 0.0001]
    assert minimums.tolist() == [0.0, 5000.0, 5000.0]
    # bar files carry no market: a KRW pair is still crypto
    assert symbol_lots(["005930", "KRW-BTC"], None)[0].tolist() == [1.0, 1e-8]


def test_bad_lots_are_refused():
    panel = make_panel([100.0, 101.0])
    entries, exits = signals(panel.shape, entries=[0])
    with pytest.raises(ValueError, match="lot_sizes must be a positive number"):
        run(panel, entries, exits, config=EngineConfig(), lot_sizes=[0.0])
    with pytest.raises(ValueError, match="min_order_values has 2 entries for 1 symbols"):
        run(panel, entries, exits, config=EngineConfig(), min_order_values=[0.0, 1.0])


# Recorded with the engine as it was before lots (commit 1d49b96, whole shares): the sample stocks'
# SMA 10/30 run, trade for trade (sha256 of [(symbol, entry bar, exit bar, shares), ...]) and to the
# last bit of the final equity. A fixed sell tax keeps the record independent of the dated tax table.
BEFORE_LOTS = {
    "shared": (268, 51959, "00da125ec3e5f015", 39121674.43213685),
    "independent": (268, 183872, "0f91312a356fe75e", 263104747.2060256),
}


@pytest.mark.parametrize("accounts", ["shared", "independent"])
def test_a_sample_stock_run_trades_exactly_as_before_lots(accounts):
    import hashlib

    from marketdata.store import BarSet

    codes = ["005930", "000660", "035720"]
    data = [read_sample(code) for code in codes]
    offsets = np.zeros(len(codes) + 1, dtype=np.int64)
    np.cumsum([len(bars["date"]) for bars in data], out=offsets[1:])
    panel = Panel.from_barset(BarSet(codes=codes, offsets=offsets, value=np.zeros(offsets[-1]),
                                     **{name: np.concatenate([bars[name] for bars in data]) for name in data[0]}))
    config = EngineConfig(accounts=accounts, sizing="equal_weight", stop_loss=0.07, trailing_stop=0.1,
                          costs=Costs(commission=0.00015, slippage_bps=5.0, sell_tax=0.0023))
    result = run_strategy(panel, strategy_type="sma_cross", params={"fast": 10, "slow": 30}, config=config,
                          markets=["KOSPI"] * 3)
    t = result.trade_table
    rows = [(int(t.symbol[i]), int(t.entry_bar[i]), int(t.exit_bar[i]), int(t.shares[i])) for i in range(len(t))]
    assert np.array_equal(t.shares, np.round(t.shares))
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    assert (len(rows), sum(row[3] for row in rows), digest, float(result.equity[-1])) == BEFORE_LOTS[accounts]
