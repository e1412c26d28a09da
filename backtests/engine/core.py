"""The backtest simulation: signals in, trades, equity and metrics out.

Pure core (no Django imports). ``run`` validates the inputs, prepares the cost and parameter
arrays and drives the compiled loops in ``_kernels`` (see that module for the exact order of
events inside a bar).

Execution rules (issue 4):
- a signal is decided on bar t's close; ``fill="next_open"`` fills it at the open of the symbol's
  next bar *that exists*: when t+1 has no bar for that symbol (NaN), the order waits for the
  symbol's next valid bar and fills at its open (a stale order is still filled there; it is never
  filled on a day without a bar). ``fill="close"`` fills at bar t's close. A signal on the panel's
  last bar is dropped in both modes; a signal on a day without a bar is ignored.
- long only, one position per symbol; an entry signal while long (or while an entry is pending)
  and an exit signal while flat are ignored; an entry and an exit on the same bar cancel out
  (vectorbt's default).
- quantities in lots (``lot_sizes``: 1 share for stocks, the default; 1e-8 for Upbit's KRW pairs):
  ``floor(budget / (price * (1 + slippage) * (1 + commission)) / lot)`` lots and never more
  than the cash (the same as the issue's ``price * (1 + commission + slippage)`` when slippage is
  0; with slippage the product keeps the cross term so a buy can never overspend). A buy worth
  less than the symbol's ``min_order_values`` (Upbit: 5,000 KRW; default 0) is not placed. A lot
  of 1 computes exactly what whole shares did (every product by 1.0 is exact).
- trade prices (``entry_price``/``exit_price``) are reference prices (open, close, stop level);
  cash moves at the price worsened by slippage, reported as a cost of its own.
- stops are checked from the entry bar itself with ``next_open`` fills (the open comes before the
  bar's range) and from the bar after the entry with ``close`` fills; stop loss before take profit
  when one bar touches both (the pessimistic order); the trailing stop is measured from the highest
  high up to the previous bar (and the entry price), so a bar's own high never raises its stop.
- ``max_holding_days`` counts the symbol's bars after the entry bar and exits at the close of the
  N-th (in both fill modes).
- a pending ``next_open`` entry that meets ``max_positions`` full at the open is dropped.
- a position still open at the end is marked to its last close (no sell costs) and listed with an
  empty exit and ``exit_reason="open"``.

Intraday entries (``entry_price`` given, as ``volatility_breakout`` returns it):
- every entry at bar t fills *during* bar t at ``entry_price[s, t]`` whatever ``fill`` is, sized and
  costed like any other buy (slippage on top of that price, integer shares, the cash cap,
  ``max_positions``), with the cash left after the open's fills: in a shared account the bar runs
  open fills (sells, then buys), then the intraday entries in symbol order, then the stops of the
  positions held from earlier bars, then the close. Cash a stop frees later in the day therefore
  never pays for an entry of the same day, and a position stopped later in the day still holds
  its slot when the entries are placed (the conservative reading of an unknown intraday order).
- no stop loss, trailing stop or take profit is checked on the entry bar: the bar's low or high
  may have come before the fill and the bar does not say. The trailing peak starts at the entry
  price and takes the entry bar's high at its close (after a breakout fill the high is later than
  the fill, since the price had to rise through the entry price); the stops apply from the next
  bar. ``max_holding_days`` counts bars after the entry bar as usual.
- an entry and an exit on the same bar do not cancel out: the exit, decided at bar t's close,
  sells the position bought during bar t by the fill rule (next open, or bar t's close with
  ``fill="close"``); an entry while long is ignored. Exits keep every normal rule.
- the entry needs no later bar, so an intraday entry on the panel's last bar is filled (and left
  open, marked to the close); an exit signal there is dropped as usual.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from backtests.engine import _kernels as k
from backtests.engine.config import EngineConfig
from backtests.engine.costs import DEFAULT_MARKET
from backtests.engine.panel import Panel
from backtests.engine.result import Result, SimulationArrays, TradeTable

PROGRESS_CHUNKS = 20
# independent runs cut the symbols in chunks of about this many (at least), by the panel's size alone:
# the cash series sums the chunks' totals, so fixed chunks give the same bits on any CPU count, in
# threads or not; many chunks also keep both threads busy on a loaded machine
PARALLEL_MIN_SYMBOLS = 256
# ... and a small panel still in a few chunks, so its progress moves in steps (by size alone, too)
SMALL_PANEL_CHUNKS = 4
_NO_ENTRY_PRICE = np.empty((0, 0))


def run(
    panel: Panel,
    entries: np.ndarray,
    exits: np.ndarray,
    *,
    config: EngineConfig,
    markets: list[str] | None = None,
    progress: Callable[[float], None] | None = None,
    entry_price: np.ndarray | None = None,
    lot_sizes: Sequence[float] | np.ndarray | None = None,
    min_order_values: Sequence[float] | np.ndarray | None = None,
) -> Result:
    """Backtest boolean ``entries``/``exits`` (shape ``panel.shape``) on ``panel`` under ``config``.

    ``markets`` names each symbol's market for the dated sell tax (default KOSPI for every symbol;
    ignored when ``config.costs.sell_tax`` is set). ``progress`` receives fractions in (0, 1],
    about 20 times, ending with 1.0. ``entry_price`` (float, ``panel.shape``, NaN where there is no
    entry) makes every entry an intraday one, filled during its bar at that price (see the module
    docstring); it must be a positive price wherever ``entries`` is True on a bar with a close.
    ``lot_sizes`` (per symbol, > 0; default 1) is the quantity step of each symbol's orders and
    ``min_order_values`` (per symbol, KRW, >= 0; default 0) the smallest buy placed.
    Raises ValueError on shape or market mismatches, a bad lot or minimum and a missing entry price.
    """
    entries, exits = _check_signals(panel, entries, exits)
    markets = _check_markets(panel, markets)
    lots = _check_per_symbol(panel, "lot_sizes", lot_sizes, 1.0, positive=True)
    minimums = _check_per_symbol(panel, "min_order_values", min_order_values, 0.0, positive=False)
    if entry_price is not None:
        entry_price = _check_entry_price(panel, entries, entry_price)
    arrays = simulate(panel, entries, exits, config=config, markets=markets, progress=progress,
                      entry_price=entry_price, lots=lots, min_order_values=minimums)
    return Result(panel=panel, config=config, entries=entries, exits=exits, markets=markets, arrays=arrays,
                  entry_price=entry_price, lots=lots, min_order_values=minimums)


def _check_signals(panel: Panel, entries: np.ndarray, exits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    checked = []
    for name, signal in (("entries", entries), ("exits", exits)):
        signal = np.asarray(signal)
        if signal.shape != panel.shape:
            raise ValueError(f"{name} has shape {signal.shape}, expected {panel.shape} (symbols x dates)")
        if signal.dtype != np.bool_:
            raise ValueError(f"{name} must be a boolean array, got {signal.dtype}")
        checked.append(np.ascontiguousarray(signal))
    return checked[0], checked[1]


def _check_entry_price(panel: Panel, entries: np.ndarray, entry_price: np.ndarray) -> np.ndarray:
    price = np.asarray(entry_price)
    if price.shape != panel.shape:
        raise ValueError(f"entry_price has shape {price.shape}, expected {panel.shape} (symbols x dates)")
    if price.dtype.kind not in "fiu":
        raise ValueError(f"entry_price must be a float array, got {price.dtype}")
    price = np.ascontiguousarray(price, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = entries & panel.has_bar & ~(np.isfinite(price) & (price > 0.0))
    if bad.any():
        s, t = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(
            f"entry_price must be a positive price wherever entries is True: {panel.symbols[s]} on "
            f"{panel.dates[t]} has {price[s, t]!r}"
        )
    return price


def _check_per_symbol(panel: Panel, name: str, values: Sequence[float] | np.ndarray | None, default: float, *,
                      positive: bool) -> np.ndarray:
    if values is None:
        return np.full(panel.n_symbols, default)
    try:
        array = np.array(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numbers, one per symbol") from error
    if array.shape[0] != panel.n_symbols:
        raise ValueError(f"{name} has {array.shape[0]} entries for {panel.n_symbols} symbols")
    bad = ~np.isfinite(array) | ((array <= 0.0) if positive else (array < 0.0))
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        rule = "a positive number" if positive else "a number >= 0"
        raise ValueError(f"{name} must be {rule}: {panel.symbols[s]} has {array[s]!r}")
    return array


def _check_markets(panel: Panel, markets: list[str] | None) -> list[str]:
    if markets is None:
        return [DEFAULT_MARKET] * panel.n_symbols
    if len(markets) != panel.n_symbols:
        raise ValueError(f"markets has {len(markets)} entries for {panel.n_symbols} symbols")
    return [str(market).upper() for market in markets]


def _parameters(config: EngineConfig, n_symbols: int) -> np.ndarray:
    p = np.zeros(k.NP)
    p[k.P_COMM] = config.costs.commission
    p[k.P_SLIP] = config.costs.slippage
    p[k.P_SL] = config.stop_loss or 0.0
    p[k.P_TP] = config.take_profit or 0.0
    p[k.P_TS] = config.trailing_stop or 0.0
    p[k.P_MAXHOLD] = config.max_holding_days or 0
    p[k.P_SIZING], p[k.P_SIZE] = config.sizing_code()
    shared = config.accounts == "shared"
    p[k.P_MAXPOS] = (config.max_positions or 0) if shared else 0
    p[k.P_FILL_CLOSE] = 1.0 if config.fill == "close" else 0.0
    p[k.P_DIVISOR] = (config.max_positions or max(n_symbols, 1)) if shared else 1
    return p


@dataclass
class _Part:
    """Output buffers of one chunk of the run (independent chunks run in parallel threads): its own
    series, and its own columns ``start:`` of the run's trade buffers (sized by its entries, the
    most trades it can open), so the chunks never write the same memory."""

    counters: np.ndarray
    tf: np.ndarray
    ti: np.ndarray
    cash: np.ndarray
    value: np.ndarray
    n_open: np.ndarray
    start: int

    @classmethod
    def new(cls, tf: np.ndarray, ti: np.ndarray, start: int, n_bars: int) -> _Part:
        counters = np.zeros(2, dtype=np.int64)
        counters[k.C_TRADES] = start
        return cls(counters=counters, tf=tf, ti=ti, cash=np.zeros(n_bars), value=np.zeros(n_bars),
                   n_open=np.zeros(n_bars, dtype=np.int64), start=start)

    def buffers(self) -> tuple[np.ndarray, ...]:
        return self.counters, self.tf, self.ti, self.cash, self.value, self.n_open

    @property
    def n_trades(self) -> int:
        return int(self.counters[k.C_TRADES]) - self.start


class _Placement:
    """Puts the trades of the parts one after another in their shared buffers, in part order: a part
    that finishes after every part before it is moved right away (leftwards, in place), so with
    parallel chunks the waiting CPU does it while the last chunks still run."""

    def __init__(self, parts: list[_Part]) -> None:
        self.parts = parts
        self.finished = [False] * len(parts)
        self.next = 0  # the first part not yet in place
        self.n = 0  # trades in place

    def finish(self, i: int) -> None:
        self.finished[i] = True
        while self.next < len(self.parts) and self.finished[self.next]:
            part = self.parts[self.next]
            if part.start != self.n:  # the first part, and a part after full ones, are in place already
                k.move_trades(part.tf[:k.NTF], part.ti, part.start, self.n, part.n_trades)
            self.n += part.n_trades
            self.next += 1

    def trades(self) -> tuple[np.ndarray, np.ndarray]:
        """The buffers' columns of every trade (once every part has finished)."""
        tf, ti = self.parts[0].tf, self.parts[0].ti
        return tf[:, :self.n], ti[:, :self.n]


def _trade_buffers(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    # one row per column of the trades (each contiguous); the float buffer has NTD more rows for the
    # columns derived at the end (TradeTable.from_kernel), so they fill memory already mapped
    return np.empty((k.NTF + k.NTD, capacity)), np.empty((k.NTI, capacity), dtype=np.int64)


def _tax_table(config: EngineConfig, markets: list[str], dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rates (n_markets, n_bars), market row per symbol)``."""
    unique = sorted(set(markets))
    row_of = {market: row for row, market in enumerate(unique)}
    sym_market = np.array([row_of[market] for market in markets], dtype=np.int64).reshape(len(markets))
    table = np.zeros((max(len(unique), 1), dates.shape[0]))
    for row, market in enumerate(unique):
        table[row] = config.costs.sell_tax_rates(market, dates)
    return table, sym_market


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def simulate(
    panel: Panel,
    entries: np.ndarray,
    exits: np.ndarray,
    *,
    config: EngineConfig,
    markets: list[str],
    progress: Callable[[float], None] | None = None,
    write_accounts: bool = False,
    entry_price: np.ndarray | None = None,
    lots: np.ndarray | None = None,
    min_order_values: np.ndarray | None = None,
) -> SimulationArrays:
    """Run the compiled loops on checked inputs; ``write_accounts`` also fills per-account series.

    ``entry_price`` (checked, C-contiguous float64) switches the run to intraday entries; ``lots``
    and ``min_order_values`` (checked, per symbol) default to whole units without a minimum.

    Shared accounts run bar chunks in order; independent accounts run chunks of symbols fixed by the
    panel's size (``PARALLEL_MIN_SYMBOLS``), in parallel threads when there are several CPUs (the loop
    releases the GIL; each chunk has its own buffers, merged in symbol order, so the result depends
    neither on scheduling nor on the number of CPUs).
    """
    n_sym, n_bars = panel.shape
    shared = config.accounts == "shared"
    n_acct = 1 if shared else n_sym
    tax_table, sym_market = _tax_table(config, markets, panel.dates)
    pos_f = np.zeros((n_sym, k.NF))
    pos_f[:, k.F_LAST] = np.nan
    lots = np.ones(n_sym) if lots is None else lots
    pos_f[:, k.F_LOT] = lots
    pos_f[:, k.F_MIN_VALUE] = 0.0 if min_order_values is None else min_order_values
    pos_i = np.zeros((n_sym, k.NI), dtype=np.int64)
    acct = np.zeros((n_acct, k.NA))
    acct[:, k.A_CASH] = acct[:, k.A_PREV_EQ] = acct[:, k.A_PEAK] = config.cash
    series_shape = (n_acct, n_bars) if write_accounts else (0, 0)
    acct_cash, acct_value = np.zeros(series_shape), np.zeros(series_shape)
    intraday = entry_price is not None
    # a plain run passes an empty price array to a loop compiled without the intraday branches
    entry_px = entry_price if intraday else _NO_ENTRY_PRICE
    run_shared = k.run_shared_intraday if intraday else k.run_shared
    run_independent = k.run_independent_intraday if intraday else k.run_independent
    params = _parameters(config, n_sym)
    if not intraday and not (params[k.P_SL] > 0.0 or params[k.P_TP] > 0.0 or params[k.P_TS] > 0.0
                             or params[k.P_MAXHOLD] > 0.0):
        run_independent = k.run_independent_plain  # the same steps, a symbol's state in local variables
    args = (panel.open, panel.high, panel.low, panel.close, entries, exits, entry_px, tax_table, sym_market, params)
    size = n_bars if shared else n_sym
    if shared:
        chunks = PROGRESS_CHUNKS if progress is not None else 1
    else:
        chunks = max(1, n_sym // PARALLEL_MIN_SYMBOLS, min(n_sym, SMALL_PANEL_CHUNKS))
    step = max(1, -(-size // chunks))
    bounds = [(start, min(size, start + step)) for start in range(0, size, step)] or [(0, 0)]
    if shared:
        parts = [_Part.new(*_trade_buffers(int(np.count_nonzero(entries)) + 1), 0, n_bars)]
        placement = _Placement(parts)
        for start, stop in bounds:
            run_shared(*args, start, stop, pos_f, pos_i, acct, *parts[0].buffers(), write_accounts,
                       acct_cash, acct_value)
            if progress is not None:
                progress(stop / size if size else 1.0)
        placement.finish(0)
    else:
        # each chunk buys at most once per entry signal of its symbols: its columns of one trade buffer
        capacities = [int(np.count_nonzero(entries[start:stop])) + 1 for start, stop in bounds]
        offsets = np.concatenate(([0], np.cumsum(capacities)))
        tf_all, ti_all = _trade_buffers(int(offsets[-1]))
        parts = [_Part.new(tf_all, ti_all, int(offsets[i]), n_bars) for i in range(len(bounds))]
        placement = _Placement(parts)

        def work(i: int) -> int:
            run_independent(*args, bounds[i][0], bounds[i][1], pos_f, pos_i, acct, *parts[i].buffers(),
                            write_accounts, acct_cash, acct_value)
            return i

        if len(parts) == 1 or _workers() == 1:
            for i in range(len(parts)):
                placement.finish(work(i))
                if progress is not None:
                    progress(bounds[i][1] / size if size else 1.0)
        else:
            done = 0
            with ThreadPoolExecutor(max_workers=min(_workers(), len(parts))) as pool:
                for finished in as_completed([pool.submit(work, i) for i in range(len(parts))]):
                    i = finished.result()
                    placement.finish(i)
                    done += bounds[i][1] - bounds[i][0]
                    if progress is not None:
                        progress(done / size if size else 1.0)
    tf, ti = placement.trades()
    if shared:
        cash, value, n_open = parts[0].cash, parts[0].value, parts[0].n_open
    else:
        # the independent loop adds each bar's change of cash: the balance is the running sum
        cash = config.cash * n_sym + np.cumsum(np.sum([part.cash for part in parts], axis=0), axis=-1)
        value = np.sum([part.value for part in parts], axis=0)
        n_open = np.sum([part.n_open for part in parts], axis=0)
    return SimulationArrays(
        trades=TradeTable.from_kernel(tf, ti, pos_f[:, k.F_LAST], lots),
        cash=np.asarray(cash, dtype=np.float64).reshape(n_bars),
        holdings=np.asarray(value, dtype=np.float64).reshape(n_bars),
        open_positions=np.asarray(n_open, dtype=np.int64).reshape(n_bars),
        final_cash=acct[:, k.A_CASH].copy(),
        last_close=pos_f[:, k.F_LAST].copy(),
        final_shares=pos_i[:, k.I_SHARES] * lots,
        valid_bars=pos_i[:, k.I_VALID].copy(),
        bars_in_market=pos_i[:, k.I_INMKT].copy(),
        account_max_drawdown=acct[:, k.A_MAXDD].copy(),
        initial_equity=config.cash * n_acct,
        account_cash=acct_cash if write_accounts else None,
        account_holdings=acct_value if write_accounts else None,
    )
