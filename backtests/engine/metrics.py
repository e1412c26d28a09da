"""Performance metrics from an equity curve and a trade table. Pure numpy.

Conventions: returns are fractions (0.1 = 10 %); drawdowns are negative fractions; daily returns
include the first bar against the initial capital; annualisation uses ``periods_per_year`` bars
(volatility, Sharpe, Sortino; risk-free rate 0) and calendar years between the first and the last
date for CAGR. Undefined values (no trades, zero volatility, a single bar) are NaN.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np


def drawdown(equity: np.ndarray, initial: float | np.ndarray) -> np.ndarray:
    """Drawdown series ``equity / running peak - 1`` (<= 0), the initial capital being the first peak.

    ``equity`` is ``(n_bars,)`` or ``(n_accounts, n_bars)``; ``initial`` a scalar or per account.
    """
    equity = np.asarray(equity, dtype=np.float64)
    start = np.broadcast_to(np.asarray(initial, dtype=np.float64), equity.shape[:-1])[..., None]
    peak = np.maximum.accumulate(np.concatenate([start, equity], axis=-1), axis=-1)[..., 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return equity / peak - 1.0


def equity_metrics(equity: np.ndarray, dates: np.ndarray, initial: float, periods_per_year: int) -> dict:
    """Return, risk and drawdown metrics of one equity curve ``(n_bars,)`` starting from ``initial``."""
    equity = np.asarray(equity, dtype=np.float64)
    nan = math.nan
    if equity.size == 0 or not initial > 0:  # no bars, or an empty universe with no capital
        return {"initial_equity": initial, "final_equity": initial, "total_return": nan, "cagr": nan,
                "volatility": nan, "sharpe": nan, "sortino": nan, "calmar": nan, "max_drawdown": 0.0,
                "max_drawdown_peak": None, "max_drawdown_trough": None}
    final = float(equity[-1])
    total = final / initial - 1.0
    days = int((dates[-1] - dates[0]).astype(np.int64)) if dates.size else 0
    years = days / 365.25
    cagr = (final / initial) ** (1.0 / years) - 1.0 if years > 0 and final > 0 else nan
    returns = np.diff(np.concatenate([[initial], equity])) / np.concatenate([[initial], equity[:-1]])
    scale = math.sqrt(periods_per_year)
    std = float(np.std(returns, ddof=1)) if returns.size > 1 else nan
    mean = float(np.mean(returns))
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    dd = drawdown(equity, initial)
    trough = int(np.argmin(dd))
    max_dd = float(dd[trough])
    # the last bar at the running peak before the trough
    peak = trough - int(np.argmax(equity[trough::-1])) if max_dd < 0 else trough
    if max_dd < 0 and equity[peak] < initial:  # the peak was the initial capital, before the first bar
        peak = 0
    return {
        "initial_equity": float(initial),
        "final_equity": final,
        "total_return": total,
        "cagr": cagr,
        "volatility": std * scale,
        "sharpe": mean / std * scale if std > 0 else nan,
        "sortino": mean / downside * scale if downside > 0 else nan,
        "calmar": cagr / -max_dd if max_dd < 0 and not math.isnan(cagr) else nan,
        "max_drawdown": max_dd,
        "max_drawdown_peak": _date(dates[peak]) if max_dd < 0 else None,
        "max_drawdown_trough": _date(dates[trough]) if max_dd < 0 else None,
    }


def trade_metrics(net_returns: np.ndarray, pnl: np.ndarray, bars_held: np.ndarray) -> dict:
    """Metrics of closed trades: win rate, average return/win/loss, profit factor, expectancy (KRW).

    A win is a trade with a positive net return. Profit factor is gross KRW profit of winners over
    the absolute KRW loss of losers; expectancy the mean net KRW result per trade.
    """
    n = int(net_returns.size)
    nan = math.nan
    wins, losses = net_returns > 0, net_returns <= 0
    loss_krw = -float(pnl[pnl < 0].sum())
    return {
        "trades": n,
        "win_rate": float(wins.mean()) if n else nan,
        "avg_trade_return": float(net_returns.mean()) if n else nan,
        "avg_win": float(net_returns[wins].mean()) if wins.any() else nan,
        "avg_loss": float(net_returns[losses].mean()) if losses.any() else nan,
        "profit_factor": float(pnl[pnl > 0].sum()) / loss_krw if loss_krw > 0 else nan,
        "expectancy": float(pnl.mean()) if n else nan,
        "avg_holding_days": float(bars_held.mean()) if n else nan,
    }


def return_histogram(net_returns: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of the trade-return distribution (``bins`` equal bins over the data range)."""
    return np.histogram(np.asarray(net_returns, dtype=np.float64), bins=bins)


def _date(value: np.datetime64) -> dt.date:
    return value.astype("datetime64[D]").item()
