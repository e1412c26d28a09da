"""The backtest engine: pure numpy/numba, no Django.

    from backtests.engine import Costs, EngineConfig, Panel, run
    result = run(panel, entries, exits, config=EngineConfig(accounts="independent"))
    result.trades, result.equity, result.metrics, result.per_symbol, result.benchmark

``run(..., entry_price=prices)`` fills every entry during its own bar at that price (intraday
entries, as ``volatility_breakout`` produces them); see ``core`` for the rules.
"""

from backtests.engine.config import EngineConfig
from backtests.engine.core import run
from backtests.engine.costs import SELL_TAX_TABLE, Costs, sell_tax_rate, sell_tax_rate_settled, settlement_dates
from backtests.engine.panel import Panel
from backtests.engine.result import REASONS, Result, Signal, Trade, TradeTable

__all__ = [
    "REASONS", "SELL_TAX_TABLE", "Costs", "EngineConfig", "Panel", "Result", "Signal", "Trade", "TradeTable",
    "run", "sell_tax_rate", "sell_tax_rate_settled", "settlement_dates",
]
