"""Summary, per-symbol and benchmark metrics of a ``Result`` (see ``metrics`` for conventions).

- exposure: share of bars with at least one open position (per symbol: of the symbol's own bars);
  ``avg_invested``: mean of holdings / equity.
- turnover: traded value (buys + sells at reference prices) / 2 / mean equity over the whole run;
  ``annual_turnover`` divides by the years covered.
- the benchmark buys every symbol of the universe at its first opportunity (a buy signal on the
  symbol's first bar, so with ``next_open`` the open of its second bar) with an equal share of the
  total initial capital, the symbols' lots and the same commission/slippage, and holds to the end
  (marked to the last close, no sell costs), with independent equal accounts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from backtests.engine import metrics as m

if TYPE_CHECKING:
    from backtests.engine.result import Result


def summary_metrics(result: Result, *, with_benchmark: bool = True) -> dict:
    """Metrics of the whole run (total equity and closed trades), costs by kind and, unless
    ``with_benchmark`` is False (a second simulation: sweeps compare cells, not the benchmark), the
    benchmark and the excess return over it."""
    arrays, config, dates = result.arrays, result.config, result.dates
    summary = m.equity_metrics(result.equity, dates, arrays.initial_equity, config.periods_per_year)
    t = arrays.trades
    closed = t.closed
    summary.update(m.trade_metrics(t.net_return[closed], t.pnl[closed], t.bars_held[closed]))
    summary["open_trades"] = int((~closed).sum())
    equity = result.equity
    summary["exposure"] = float(np.mean(arrays.open_positions > 0)) if equity.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        summary["avg_invested"] = float(np.mean(arrays.holdings / equity)) if equity.size else 0.0
    traded = float((t.shares * t.entry_price).sum() + (t.shares * t.exit_price)[closed].sum())
    turnover = traded / 2.0 / float(equity.mean()) if equity.size and equity.mean() > 0 else 0.0
    years = float((dates[-1] - dates[0]).astype(np.int64)) / 365.25 if dates.size > 1 else 0.0
    summary["turnover"] = turnover
    summary["annual_turnover"] = turnover / years if years > 0 else float("nan")
    costs = {"commission": float(t.commission.sum()), "tax": float(t.tax.sum()), "slippage": float(t.slippage.sum())}
    costs["total"] = costs["commission"] + costs["tax"] + costs["slippage"]
    summary["costs"] = costs
    if not with_benchmark:
        return summary
    bench = result.benchmark["metrics"]
    summary["benchmark"] = bench
    summary["excess_return"] = summary["total_return"] - bench["total_return"]  # NaN propagates
    return summary


def per_symbol_metrics(result: Result) -> list[dict]:
    """One dict per symbol: trades, win rate, P&L (closed + open mark), costs, exposure, and for
    independent accounts the account's final equity, return and max drawdown (None when shared;
    ``total_return`` is then the P&L over the shared initial capital)."""
    arrays, config = result.arrays, result.config
    n = result.panel.n_symbols
    t = arrays.trades
    closed = t.closed
    net = t.net_return

    def per(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        sym = t.symbol if mask is None else t.symbol[mask]
        vals = values if mask is None else values[mask]
        return np.bincount(sym, weights=vals, minlength=n) if sym.size else np.zeros(n)

    n_closed = np.bincount(t.symbol[closed], minlength=n) if len(t) else np.zeros(n, dtype=np.int64)
    n_open = np.bincount(t.symbol[~closed], minlength=n) if len(t) else np.zeros(n, dtype=np.int64)
    wins = per((net > 0).astype(np.float64), closed)
    sum_net = per(net, closed)
    pnl = per(t.pnl)
    costs = per(t.commission + t.tax + t.slippage)
    value = arrays.final_shares * np.nan_to_num(arrays.last_close)
    independent = config.accounts == "independent"
    final_equity = arrays.final_cash + value if independent else None
    rows = []
    for s, symbol in enumerate(result.panel.symbols):
        count = int(n_closed[s])
        rows.append({
            "symbol": symbol,
            "trades": count,
            "open_trades": int(n_open[s]),
            "win_rate": float(wins[s]) / count if count else float("nan"),
            "avg_trade_return": float(sum_net[s]) / count if count else float("nan"),
            "pnl": float(pnl[s]),
            "costs": float(costs[s]),
            "final_value": float(value[s]),
            "final_equity": float(final_equity[s]) if final_equity is not None else None,
            "total_return": (float(final_equity[s]) / config.cash - 1.0) if final_equity is not None
            else float(pnl[s]) / config.cash,
            "max_drawdown": float(arrays.account_max_drawdown[s]) if independent else None,
            "exposure": float(arrays.bars_in_market[s] / arrays.valid_bars[s]) if arrays.valid_bars[s] else 0.0,
        })
    return rows


def benchmark(result: Result) -> dict:
    """Equal-weight buy-and-hold of the universe: ``{"equity": (n_bars,), "metrics": {...}}``."""
    from backtests.engine.core import simulate

    panel, config = result.panel, result.config
    n = panel.n_symbols
    if n == 0 or panel.n_bars == 0:  # nothing to hold
        equity = np.full(panel.n_bars, result.arrays.initial_equity)
        return {"equity": equity, "metrics": m.equity_metrics(equity, panel.dates, result.arrays.initial_equity,
                                                             config.periods_per_year)}
    has_bar = panel.has_bar
    entries = np.zeros(panel.shape, dtype=bool)
    first = np.argmax(has_bar, axis=1)
    listed = has_bar.any(axis=1)
    entries[np.flatnonzero(listed), first[listed]] = True
    hold = replace(config, cash=result.arrays.initial_equity / n, accounts="independent",
                   sizing="all_in", max_positions=None, stop_loss=None, take_profit=None,
                   trailing_stop=None, max_holding_days=None)
    arrays = simulate(panel, entries, np.zeros_like(entries), config=hold, markets=result.markets, lots=result.lots,
                      min_order_values=result.min_order_values)
    equity = arrays.cash + arrays.holdings
    metrics = m.equity_metrics(equity, panel.dates, result.arrays.initial_equity, config.periods_per_year)
    return {"equity": equity, "metrics": metrics}
