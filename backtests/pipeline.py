"""Bars to a finished backtest: the one path every door takes (the ``backtest`` command, the
benchmark, the Celery task).

Pure core (no Django imports). Load a :class:`~backtests.engine.Panel` with :func:`panel_from_store`
(the Parquet bar store, with each symbol's market for the dated sell tax) or :func:`panel_from_csv`
(a bar file or a folder of them), then :func:`run_strategy` validates the parameters through the
strategy registry, computes the signals and runs the engine::

    panel, markets = panel_from_store(store, ["005930", "000660"], date(2020, 1, 1), None)
    result = run_strategy(panel, strategy_type="sma_cross", params={"fast": 10, "slow": 30},
                          config=EngineConfig(), markets=markets)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from backtests.engine import EngineConfig, Panel, Result, run
from marketdata.store import BarSet, BarStore
from marketdata.validation import DataFileError, find_bar_files, read_bar_file
from strategies import signals

# Share of the progress bar that computing the signals stands for (the engine takes the rest).
SIGNALS_SHARE = 0.1
# (lot size, minimum order value in KRW) by market when the instrument master does not say: whole
# shares on KRX; Upbit's KRW market trades 8-decimal quantities from 5,000 KRW an order.
MARKET_LOTS: dict[str, tuple[float, float]] = {"CRYPTO": (1e-8, 5000.0)}
STOCK_LOT = (1.0, 0.0)


def _market_of_code(code: str) -> str:
    """A bar file's market when nothing else says: Upbit's KRW pairs are "KRW-..." (KRX codes hold no dash)."""
    return "CRYPTO" if str(code).upper().startswith("KRW-") else ""


def symbol_lots(symbols: Sequence[str], markets: Sequence[str] | None,
                master: Mapping[str, tuple[float, float]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(lot sizes, minimum order values)`` per symbol: the instrument master's (``{code: (lot,
    minimum)}``) when it knows the code, else the market's default (:data:`MARKET_LOTS`; whole
    shares without a minimum for stocks and unknown markets; without a market a "KRW-" code, such
    as a bar file ``KRW-BTC.csv``, is a crypto pair)."""
    master = master or {}
    rows = [master.get(code) or MARKET_LOTS.get(str(market or _market_of_code(code)).upper(), STOCK_LOT)
            for code, market in zip(symbols, markets or [""] * len(symbols), strict=True)]
    return (np.array([row[0] for row in rows], dtype=np.float64).reshape(len(rows)),
            np.array([row[1] for row in rows], dtype=np.float64).reshape(len(rows)))


class NoBarsError(ValueError):
    """Some requested symbols have no bar in the requested period.

    ``codes`` lists every such code in the order asked; ``unknown`` the subset the bar store holds
    no bar of at all (never imported, or a typo).
    """

    def __init__(self, codes: Sequence[str], *, unknown: Sequence[str] = (), start: dt.date | None = None,
                 end: dt.date | None = None) -> None:
        self.codes = list(codes)
        self.unknown = [code for code in self.codes if code in set(unknown)]
        self.start, self.end = start, end
        parts = []
        if self.unknown:
            parts.append(f"unknown code{'s' if len(self.unknown) > 1 else ''} {', '.join(self.unknown)} "
                         "(no bars in the bar store)")
        dated = [code for code in self.codes if code not in self.unknown]
        if dated:
            parts.append(f"no bars {_span(start, end)} for {', '.join(dated)}")
        super().__init__("; ".join(parts))


def _one_line(error: DataFileError) -> str:
    """The first problem of a bar file error, and how many more there are."""
    more = len(error.problems) - 1
    return str(error.problems[0]) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _span(start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return f"between {start} and {end}"
    if start:
        return f"from {start} on"
    if end:
        return f"up to {end}"
    return "at all"


def _check_period(start: dt.date | None, end: dt.date | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")


def run_strategy(
    panel: Panel,
    *,
    strategy_type: str,
    params: Mapping[str, Any],
    config: EngineConfig,
    markets: list[str] | None = None,
    progress: Callable[[float], None] | None = None,
    lots: Mapping[str, tuple[float, float]] | None = None,
) -> Result:
    """Validate ``params`` for ``strategy_type``, compute its signals on ``panel`` and backtest them.

    Raw parameter values may be strings (``{"fast": "10"}``): the type's schema converts them.
    Intraday entries (``volatility_breakout``) reach the engine with their entry price. ``markets``
    as for :func:`backtests.engine.run`. ``progress`` receives increasing fractions: the signals
    are the first :data:`SIGNALS_SHARE`, the engine the rest, the last call is 1.0. ``lots`` is the
    instrument master's ``{code: (lot size, minimum order value)}``; a symbol it lacks trades its
    market's lots (:func:`symbol_lots`).

    Raises ``strategies.signals.UnknownStrategyType``, ``strategies.signals.ParamError`` (one
    message per field) before any computation, and ValueError on inconsistent inputs.
    """
    # compute() validates the parameters before it touches an array
    sig = signals.compute(strategy_type, open=panel.open, high=panel.high, low=panel.low, close=panel.close,
                          params=params)
    report = _Progress(progress)
    report(SIGNALS_SHARE)
    engine_progress = None if progress is None else report.engine
    lot_sizes, minimums = symbol_lots(panel.symbols, markets, lots)
    result = run(panel, sig.entries, sig.exits, config=config, markets=markets, progress=engine_progress,
                 entry_price=sig.entry_price, lot_sizes=lot_sizes, min_order_values=minimums)
    report(1.0)
    return result


class _Progress:
    """Maps the engine's (0, 1] onto the pipeline's share of it; never repeats the final 1.0."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback = callback
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        if self.callback is not None and fraction > self.last:
            self.last = fraction
            self.callback(fraction)

    def engine(self, fraction: float) -> None:
        self(1.0 if fraction >= 1.0 else SIGNALS_SHARE + (1.0 - SIGNALS_SHARE) * fraction)


def panel_from_store(
    store: BarStore, codes: Sequence[str], start: dt.date | None, end: dt.date | None
) -> tuple[Panel, list[str]]:
    """The bars of ``codes`` between ``start`` and ``end`` (inclusive; None = no limit) as a panel
    aligned on the union of their dates, and each code's market as the store files it (KOSPI,
    KOSDAQ, KONEX, CRYPTO).

    Raises :class:`NoBarsError` when a code has no bar in the period, ValueError for no codes, a
    malformed code or an end before the start.
    """
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        raise ValueError("no codes given")
    _check_period(start, end)
    bars = store.read(wanted, start, end)
    counts = np.diff(bars.offsets)
    empty = [code for code, count in zip(bars.codes, counts, strict=True) if count == 0]
    if empty:
        unknown = [code for code in empty if store.market_of(code) is None]
        raise NoBarsError(empty, unknown=unknown, start=start, end=end)
    markets = [store.market_of(code) or "" for code in bars.codes]
    return Panel.from_barset(bars), markets


def panel_from_csv(path: Path | str, *, start: dt.date | None = None, end: dt.date | None = None) -> Panel:
    """A panel from one bar file or a folder of them (``*.csv``, also ``*.parquet``), one symbol per
    file named after its stem (``005930.csv``), rows between ``start`` and ``end`` when given.

    Columns ``date,open,high,low,close,volume`` (other columns are ignored), checked by the same
    rules as ``manage.py import_bars`` (``marketdata.validation``); rows are sorted by date.
    Raises ValueError naming the file, the row and the problem (a missing column, an unparsable
    date or number, an empty file, a repeated date, ...) with a count of any further problems;
    :class:`NoBarsError` when a file has no row in the period.
    """
    _check_period(start, end)
    try:
        files = find_bar_files([path])
        parsed = [read_bar_file(file) for file in files]
    except DataFileError as error:
        raise ValueError(_one_line(error)) from error
    seen: dict[str, str] = {}
    for bars in parsed:
        if bars.code in seen:
            raise ValueError(f"{bars.path}: code {bars.code} already comes from {seen[bars.code]}")
        seen[bars.code] = bars.path
    first, last = (None if day is None else np.datetime64(day, "D") for day in (start, end))
    rows = []
    for bars in parsed:
        keep = np.ones(len(bars), dtype=bool)
        if first is not None:
            keep &= bars.rows["date"] >= first
        if last is not None:
            keep &= bars.rows["date"] <= last
        rows.append({name: column[keep] for name, column in bars.rows.items()})
    empty = [bars.code for bars, columns in zip(parsed, rows, strict=True) if not len(columns["date"])]
    if empty:
        raise NoBarsError(empty, start=start, end=end)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(columns["date"]) for columns in rows], out=offsets[1:])
    barset = BarSet(codes=[bars.code for bars in parsed], offsets=offsets,
                    **{name: np.concatenate([columns[name] for columns in rows]) for name in rows[0]})
    return Panel.from_barset(barset)


def warm_up() -> int:
    """Run a tiny backtest in both account modes so that numba's cached machine code is loaded
    before the first user's run (a fresh process otherwise pays ~0.3 s on its first backtest).
    Returns the number of trades (for tests)."""
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    close = (100.0 + 10.0 * np.sin(np.arange(days.size) / 4.0)).reshape(1, -1)
    panel = Panel(open=close, high=close * 1.01, low=close * 0.99, close=close, volume=np.ones_like(close),
                  dates=days, symbols=["WARMUP"])
    trades = 0
    for accounts in ("shared", "independent"):
        result = run_strategy(panel, strategy_type="sma_cross", params={"fast": 2, "slow": 5},
                              config=EngineConfig(accounts=accounts, cash=1_000_000.0))
        trades += len(result.arrays.trades)
    return trades
