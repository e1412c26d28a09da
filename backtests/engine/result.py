"""What a backtest returns: columnar trades, daily series, and lazily built lists and metrics.

The run itself only fills arrays (``SimulationArrays``); Python objects (trade and signal lists),
metrics, per-account series and the benchmark are computed on first access and cached, so timing
the engine on thousands of symbols does not pay for what a caller never reads.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from backtests.engine import _kernels as k
from backtests.engine import metrics as m

if TYPE_CHECKING:
    from backtests.engine.config import EngineConfig
    from backtests.engine.panel import Panel

REASONS = k.REASONS
MAX_LOT_DECIMALS = 10


def lot_decimals(lot: float) -> int:
    """Decimals a quantity in lots of ``lot`` needs: 0 for whole shares, 8 for 1e-8, 4 for 0.0001."""
    if not lot > 0 or not np.isfinite(lot):
        return 0
    exponent = Decimal(repr(float(lot))).normalize().as_tuple().exponent
    return min(MAX_LOT_DECIMALS, max(0, -int(exponent)))


def quantity(value: float, lot: float = 1.0) -> int | float:
    """A traded quantity as a plain number: an int for whole lots of whole units (stocks), else the
    float rounded to the lot's decimals (so 0.1 BTC never prints as 0.10000000000000002)."""
    decimals = lot_decimals(lot)
    if decimals == 0:
        return int(round(float(value)))
    return round(float(value), decimals)


@dataclass(frozen=True, eq=False)
class TradeTable:
    """Trades as columns (one row per trade, in the order they were opened).

    ``exit_bar`` is -1 and ``exit_price``/``cash_in`` NaN for a position still open; ``reason``
    indexes ``REASONS``. Costs are KRW: ``commission`` (both sides), ``tax`` (sell), ``slippage``
    (both sides). ``cash_out`` is what the buy cost, ``cash_in`` what the sale returned.
    For open trades ``pnl``/returns use the last close without sell costs. ``shares`` is the
    quantity (float: lots x lot size; whole numbers for stocks).
    """

    symbol: np.ndarray
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    shares: np.ndarray
    bars_held: np.ndarray
    reason: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    commission: np.ndarray
    tax: np.ndarray
    slippage: np.ndarray
    cash_out: np.ndarray
    cash_in: np.ndarray
    mark_price: np.ndarray

    @classmethod
    def from_kernel(cls, tf: np.ndarray, ti: np.ndarray, last_close: np.ndarray, lots: np.ndarray) -> TradeTable:
        """``ti`` counts lots; ``lots`` is each symbol's lot size. The derived columns (mark price,
        quantity, costs) go into ``tf``'s rows after ``NTF`` when it has them (the engine's buffers do),
        else into a new array."""
        derived = tf[k.NTF:k.NTF + k.NTD] if tf.shape[0] >= k.NTF + k.NTD else np.empty((k.NTD, tf.shape[1]))
        k.trade_columns(tf, ti, last_close, lots, derived)
        return cls(
            symbol=ti[k.T_SYM],
            entry_bar=ti[k.T_ENTRY_BAR],
            exit_bar=ti[k.T_EXIT_BAR],
            shares=derived[k.D_QUANTITY],
            bars_held=ti[k.T_HELD],
            reason=ti[k.T_REASON],
            entry_price=tf[k.T_ENTRY_PRICE],
            exit_price=tf[k.T_EXIT_PRICE],
            commission=derived[k.D_COMMISSION],
            tax=tf[k.T_TAX],
            slippage=derived[k.D_SLIPPAGE],
            cash_out=tf[k.T_CASH_OUT],
            cash_in=tf[k.T_CASH_IN],
            mark_price=derived[k.D_MARK],
        )

    def __len__(self) -> int:
        return int(self.symbol.shape[0])

    @property
    def closed(self) -> np.ndarray:
        return self.exit_bar >= 0

    @property
    def value_in(self) -> np.ndarray:
        """KRW received: the sale's net proceeds, or the mark (shares x last close) when open."""
        return np.where(self.closed, self.cash_in, self.shares * self.mark_price)

    @property
    def pnl(self) -> np.ndarray:
        return self.value_in - self.cash_out

    @property
    def gross_return(self) -> np.ndarray:
        """Price return before every cost: exit (or mark) price / entry price - 1."""
        return self.mark_price / self.entry_price - 1.0

    @property
    def net_return(self) -> np.ndarray:
        """Return after commission, tax and slippage: KRW received / KRW paid - 1."""
        return self.value_in / self.cash_out - 1.0


@dataclass(frozen=True)
class Trade:
    symbol: str
    entry_date: dt.date
    entry_price: float
    exit_date: dt.date | None
    exit_price: float | None
    shares: int | float  # an int for stocks, a multiple of the lot (1e-8) for crypto
    gross_return: float
    net_return: float
    pnl: float
    commission: float
    tax: float
    slippage: float
    holding_days: int
    exit_reason: str

    @property
    def costs(self) -> float:
        return self.commission + self.tax + self.slippage


@dataclass(frozen=True)
class Signal:
    date: dt.date
    symbol: str
    type: str  # "entry" | "exit"
    price: float  # the close the signal was decided on (an intraday entry: its entry price)


@dataclass(frozen=True, eq=False)
class SimulationArrays:
    """Raw output of one simulation: totals per bar, end state per symbol / account."""

    trades: TradeTable
    cash: np.ndarray  # (n_bars,) total cash after each bar
    holdings: np.ndarray  # (n_bars,) total market value of positions at each close
    open_positions: np.ndarray  # (n_bars,) open positions at each close
    final_cash: np.ndarray  # (n_accounts,)
    last_close: np.ndarray  # (n_symbols,) NaN for a symbol without any bar
    final_shares: np.ndarray  # (n_symbols,) quantity held at the end (float)
    valid_bars: np.ndarray  # (n_symbols,)
    bars_in_market: np.ndarray  # (n_symbols,) bars closed while holding
    account_max_drawdown: np.ndarray  # (n_accounts,)
    initial_equity: float
    account_cash: np.ndarray | None = None  # (n_accounts, n_bars) when asked for
    account_holdings: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Result:
    """A finished backtest. Arrays are per bar of ``panel.dates``; accounts are one per symbol
    (independent) or a single one (shared)."""

    panel: Panel
    config: EngineConfig
    entries: np.ndarray
    exits: np.ndarray
    markets: list[str]
    arrays: SimulationArrays
    entry_price: np.ndarray | None = None  # intraday entry prices, when the run had them
    lots: np.ndarray | None = None  # (n_symbols,) lot size per symbol (None: 1)
    min_order_values: np.ndarray | None = None  # (n_symbols,) smallest buy in KRW (None: 0)

    @property
    def dates(self) -> np.ndarray:
        return self.panel.dates

    @property
    def trade_table(self) -> TradeTable:
        return self.arrays.trades

    @property
    def cash(self) -> np.ndarray:
        return self.arrays.cash

    @property
    def holdings(self) -> np.ndarray:
        return self.arrays.holdings

    @cached_property
    def equity(self) -> np.ndarray:
        """Total equity per bar: cash + positions marked to their last close."""
        return self.arrays.cash + self.arrays.holdings

    @cached_property
    def drawdown(self) -> np.ndarray:
        return m.drawdown(self.equity, self.arrays.initial_equity)

    @cached_property
    def _accounts(self) -> tuple[np.ndarray, np.ndarray]:
        from backtests.engine.core import simulate

        again = simulate(self.panel, self.entries, self.exits, config=self.config, markets=self.markets,
                         write_accounts=True, entry_price=self.entry_price, lots=self.lots,
                         min_order_values=self.min_order_values)
        assert again.account_cash is not None and again.account_holdings is not None
        return again.account_cash, again.account_holdings

    @property
    def account_cash(self) -> np.ndarray:
        """``(n_accounts, n_bars)`` cash per account (computed on first access by a second run)."""
        return self._accounts[0]

    @cached_property
    def account_equity(self) -> np.ndarray:
        """``(n_accounts, n_bars)`` equity per account."""
        return self._accounts[0] + self._accounts[1]

    @cached_property
    def account_drawdown(self) -> np.ndarray:
        return m.drawdown(self.account_equity, self.config.cash)

    @cached_property
    def trades(self) -> list[Trade]:
        t = self.arrays.trades
        dates, symbols = self.panel.dates.tolist(), self.panel.symbols
        gross, net, pnl = t.gross_return.tolist(), t.net_return.tolist(), t.pnl.tolist()
        lots = np.ones(self.panel.n_symbols) if self.lots is None else self.lots
        rows = []
        for i in range(len(t)):
            closed = t.exit_bar[i] >= 0
            rows.append(Trade(
                symbol=symbols[t.symbol[i]],
                entry_date=dates[t.entry_bar[i]],
                entry_price=float(t.entry_price[i]),
                exit_date=dates[t.exit_bar[i]] if closed else None,
                exit_price=float(t.exit_price[i]) if closed else None,
                shares=quantity(t.shares[i], lots[t.symbol[i]]),
                gross_return=gross[i],
                net_return=net[i],
                pnl=pnl[i],
                commission=float(t.commission[i]),
                tax=float(t.tax[i]),
                slippage=float(t.slippage[i]),
                holding_days=int(t.bars_held[i]),
                exit_reason=REASONS[t.reason[i]],
            ))
        return rows

    @cached_property
    def signals(self) -> list[Signal]:
        """Every entry/exit signal on a bar with a bar, by date then symbol; price = that close (the
        entry price for an intraday entry)."""
        has_bar = self.panel.has_bar
        found = []
        for kind, mask in (("entry", self.entries), ("exit", self.exits)):
            sym, bar = np.nonzero(mask & has_bar)
            found.append((bar, sym, np.full(bar.shape, kind)))
        bar, sym, kind = (np.concatenate(parts) for parts in zip(*found, strict=True))
        order = np.lexsort((kind, sym, bar))
        dates, symbols, close = self.panel.dates.tolist(), self.panel.symbols, self.panel.close
        entry = close if self.entry_price is None else self.entry_price
        return [Signal(dates[bar[i]], symbols[sym[i]], str(kind[i]),
                       float((entry if kind[i] == "entry" else close)[sym[i], bar[i]])) for i in order]

    @cached_property
    def trade_return_histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(counts, edges)`` of closed trades' net returns."""
        t = self.arrays.trades
        return m.return_histogram(t.net_return[t.closed], self.config.histogram_bins)

    @cached_property
    def metrics(self) -> dict:
        from backtests.engine.report import summary_metrics

        return summary_metrics(self)

    @cached_property
    def per_symbol(self) -> list[dict]:
        from backtests.engine.report import per_symbol_metrics

        return per_symbol_metrics(self)

    @cached_property
    def benchmark(self) -> dict:
        """Equal-weight buy-and-hold of the same universe with the same costs and fill (see report)."""
        from backtests.engine.report import benchmark

        return benchmark(self)
