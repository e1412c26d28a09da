"""Benchmark of signals + engine on a synthetic universe: ``python -m bench.engine --symbols N --years Y``.

Options: ``[--accounts independent|shared] [--sizing all_in|equal_weight] [--max-positions N] [--runs 5]
[--bt-sample 20] [--no-compare] [--json]``.

Pure: no Django. The strategy is ``sma_cross`` (fast 10, slow 30) with next-open fills, integer shares,
0.015 % commission per side and a flat 0.18 % sell tax (``Costs(sell_tax=0.0018)``: the rate the dated
KOSPI table gives for every synthetic date before 2025, fixed so every engine sees the same cost).
Independent accounts size all-in; shared accounts default to equal-weight sizing with at most 10
positions. The parent generates the universe (``marketdata.synthetic``) once and saves the panel; each
measurement runs in a fresh subprocess that loads it first (data already in memory), so that the
generator and the comparison libraries never inflate a peak RSS:

* this engine: signals (``strategies.signals.compute``) + ``backtests.engine.run``; the first call
  (numba's cached compilation loads, thread pools start) is reported apart as ``first_call_s``, then
  the median of ``--runs``; ``floor_s`` is two rolling means alone over the same closes (one thread, blocks
  of rows that stay in cache, one cumulative sum and two window differences: the floor of this strategy);
* vectorbt, when installed (``requirements-bench.txt``): its rolling means, the same strict crosses in
  numpy, signals moved one bar later and filled at the open, ``Portfolio.from_signals`` with integer
  shares and no cash sharing. vectorbt has a single ``fees`` rate for both sides, so it gets a fee
  array: commission + sell tax on the bars where an exit fills, commission elsewhere (exact, since an
  entry and an exit of one symbol never fill on the same bar);
* backtesting.py, when installed: a ``Strategy`` with pandas rolling means and the same crosses on a
  sample of ``--bt-sample`` symbols, one ``Backtest`` per symbol (it has no multi-symbol mode), the
  time scaled up to the whole universe. Its commission callable does not know the side of an order
  (a close passes the trade's positive size), so the strategy switches its rate before each order.

``trades_match`` is true when every engine's trades (symbol, entry bar, exit bar or open, shares) are
identical to ours (backtesting.py: on its sample). The comparison covers independent accounts only:
neither library has our shared account with a maximum number of positions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STRATEGY = "sma_cross"
FAST, SLOW = 10, 30
CASH = 10_000_000.0
COMMISSION = 0.00015
SELL_TAX = 0.0018
SHARED_MAX_POSITIONS = 10
RUNS = 5
BT_SAMPLE = 20
# (symbols, years, accounts or None for both, seconds, peak RSS MB or None)
TARGETS = ((2878, 10, "independent", 0.25, 1500.0), (100, 10, "shared", 0.05, None), (1, 1, None, 0.003, None))
FLOOR_BLOCK_CELLS = 320_000  # ~2.5 MB of float64 per buffer
PRICE_ARRAYS = ("open", "high", "low", "close", "volume")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# --- the universe ---------------------------------------------------------------------------------

def _save_universe(root: Path, *, symbols: int, years: int, seed: int) -> int:
    """Generate the synthetic universe into ``(symbols, bars)`` arrays saved under ``root``; returns bars."""
    from marketdata.synthetic import DEFAULT_START, business_days, synthetic_bars

    days = business_days(DEFAULT_START, years)
    arrays = {name: np.empty((symbols, days.size)) for name in PRICE_ARRAYS}
    codes = []
    for index in range(symbols):
        bars = synthetic_bars(index, days, seed)
        codes.append(bars.code)
        for name in PRICE_ARRAYS:
            arrays[name][index] = getattr(bars, name)
    for name, array in arrays.items():
        np.save(root / f"{name}.npy", array)
    np.save(root / "dates.npy", days)
    (root / "symbols.json").write_text(json.dumps(codes))
    return symbols * days.size


def _load_panel(root: Path):  # -> backtests.engine.Panel, imported late so workers import only what they use
    from backtests.engine import Panel

    arrays = {name: np.load(root / f"{name}.npy") for name in PRICE_ARRAYS}
    return Panel(dates=np.load(root / "dates.npy"), symbols=json.loads((root / "symbols.json").read_text()), **arrays)


def _save_trades(root: Path, name: str, symbol, entry_bar, exit_bar, shares) -> None:
    """Trades as columns; ``exit_bar`` -1 for a position still open at the end."""
    np.savez(root / f"trades-{name}.npz", symbol=np.asarray(symbol, dtype=np.int64),
             entry_bar=np.asarray(entry_bar, dtype=np.int64), exit_bar=np.asarray(exit_bar, dtype=np.int64),
             shares=np.asarray(shares, dtype=np.int64))


def _trade_set(root: Path, name: str, symbols: set[int] | None = None) -> set[tuple[int, int, int, int]]:
    saved = np.load(root / f"trades-{name}.npz")
    rows = zip(*(saved[key].tolist() for key in ("symbol", "entry_bar", "exit_bar", "shares")), strict=True)
    return {row for row in rows if symbols is None or row[0] in symbols}


def _match_rate(ours: set, theirs: set) -> float:
    """Trades in both lists over the longer list (1.0 when both are empty)."""
    longest = max(len(ours), len(theirs))
    return len(ours & theirs) / longest if longest else 1.0


# --- workers (each in a fresh process) -----------------------------------------------------------

def _time_runs(once, runs: int) -> tuple[float, list[tuple[float, ...]], object]:
    """``(first call seconds, [seconds of each timed run], output of the last run)``.

    ``once`` returns ``(seconds, ..., output)``. Only one run's output is alive at a time, so the
    peak RSS is the one of a single run.
    """
    first, *_ = once()
    timings, output = [], None
    for _ in range(runs):
        output = None
        *seconds, output = once()
        timings.append(tuple(seconds))
    return first, timings, output


def _engine_worker(root: Path, *, accounts: str, sizing: str, max_positions: int | None, runs: int) -> dict:
    from backtests.engine import Costs, EngineConfig, run
    from strategies.signals import compute

    panel = _load_panel(root)
    config = EngineConfig(cash=CASH, costs=Costs(commission=COMMISSION, sell_tax=SELL_TAX), accounts=accounts,
                          sizing=sizing, max_positions=max_positions)
    baseline = _peak_rss_mb()
    params = {"fast": FAST, "slow": SLOW}

    def once() -> tuple:
        started = time.perf_counter()
        entries, exits = compute(STRATEGY, close=panel.close, params=params)
        signalled = time.perf_counter()
        result = run(panel, entries, exits, config=config)
        done = time.perf_counter()
        return done - started, signalled - started, done - signalled, result

    first, timed, result = _time_runs(once, runs)
    trades = result.trade_table
    _save_trades(root, "engine", trades.symbol, trades.entry_bar, trades.exit_bar, trades.shares)
    return {
        "first_call_s": first, "runs": [t[0] for t in timed], "signals_s": statistics.median(t[1] for t in timed),
        "run_s": statistics.median(t[2] for t in timed), "trades": len(trades), "floor_s": _floor(panel.close, runs),
        "peak_rss_mb": _peak_rss_mb(), "baseline_rss_mb": baseline,
    }


def _floor(close: np.ndarray, runs: int) -> float:
    """Median seconds of two rolling means over ``close`` (one thread): per block of rows that stays in
    the CPU cache, one cumulative sum and two window differences into reused buffers."""
    rows = max(1, FLOOR_BLOCK_CELLS // max(close.shape[1], 1))
    sums = np.empty((rows, close.shape[1]))
    means = np.empty((rows, close.shape[1]))
    timings = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        for start in range(0, close.shape[0], rows):
            block = close[start:start + rows]
            k = block.shape[0]
            np.cumsum(block, axis=1, out=sums[:k])
            for n in (FAST, SLOW):
                np.subtract(sums[:k, n:], sums[:k, :-n], out=means[:k, n:])
                np.divide(means[:k, n:], n, out=means[:k, n:])
        timings.append(time.perf_counter() - started)
    return statistics.median(timings[1:])


def _strict_crosses(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Our crosses (``strategies.signals.crosses``) along axis 0 (bars x symbols, vectorbt's layout):
    above at t when ``gap[t] > 0 >= gap[t-1]``, below when ``gap[t] < 0 <= gap[t-1]``; NaN never crosses."""
    gap = fast - slow
    up, down = np.zeros(gap.shape, dtype=bool), np.zeros(gap.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        np.logical_and(gap[1:] > 0, gap[:-1] <= 0, out=up[1:])
        np.logical_and(gap[1:] < 0, gap[:-1] >= 0, out=down[1:])
    return up, down


def _vectorbt_worker(root: Path, *, runs: int) -> dict:
    import pandas as pd
    import vectorbt as vbt

    panel = _load_panel(root)
    index = pd.DatetimeIndex(panel.dates)
    # bars x symbols, vectorbt's layout; pandas keeps the (symbols, bars) arrays as its block, no copy
    close = pd.DataFrame(panel.close.T, index=index, columns=panel.symbols)
    open_ = pd.DataFrame(panel.open.T, index=index, columns=panel.symbols)
    baseline = _peak_rss_mb()

    def once() -> tuple:
        started = time.perf_counter()
        fast, slow = close.vbt.rolling_mean(FAST).to_numpy(), close.vbt.rolling_mean(SLOW).to_numpy()
        up, down = _strict_crosses(fast, slow)
        entries, exits = np.zeros_like(up), np.zeros_like(down)
        entries[1:], exits[1:] = up[:-1], down[:-1]  # decided on bar t's close, filled at t+1's open
        fees = np.where(exits, COMMISSION + SELL_TAX, COMMISSION)
        simulated = time.perf_counter()
        portfolio = vbt.Portfolio.from_signals(
            close, entries, exits, price=open_, fees=fees, size=np.inf, size_granularity=1, init_cash=CASH,
            cash_sharing=False, accumulate=False, freq="1D",
        )
        done = time.perf_counter()
        return done - started, done - simulated, portfolio

    first, timed, portfolio = _time_runs(once, runs)
    trades = portfolio.exit_trades.records
    is_open = trades["status"] == 0
    _save_trades(root, "vectorbt", trades["col"], trades["entry_idx"], np.where(is_open, -1, trades["exit_idx"]),
                 np.rint(trades["size"]))
    return {
        "version": vbt.__version__, "first_call_s": first, "runs": [t[0] for t in timed],
        "portfolio_s": statistics.median(t[1] for t in timed), "trades": len(trades),
        "peak_rss_mb": _peak_rss_mb(), "baseline_rss_mb": baseline,
    }


class _SideFee:
    """backtesting.py commission ``(size, price) -> KRW`` whose rate the strategy sets before each order."""

    def __init__(self) -> None:
        self.rate = COMMISSION

    def __call__(self, size: float, price: float) -> float:
        return abs(size) * price * self.rate


def _backtesting_strategy():  # -> a backtesting.Strategy subclass
    import pandas as pd
    from backtesting import Strategy

    def sma(values, n: int):
        return pd.Series(values).rolling(n).mean().to_numpy()

    class SmaCross(Strategy):
        fee: _SideFee | None = None
        all_in = float(np.nextafter(1.0, 0.0))  # a fraction below 1 is "this share of the cash"

        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            fast, slow = self.fast, self.slow
            if fast[-1] > slow[-1] and fast[-2] <= slow[-2] and not self.position:
                self.fee.rate = COMMISSION
                self.buy(size=self.all_in)
            elif fast[-1] < slow[-1] and fast[-2] >= slow[-2] and self.position:
                self.fee.rate = COMMISSION + SELL_TAX
                self.position.close()

    return SmaCross


def _backtesting_worker(root: Path, *, sample: int, runs: int) -> dict:
    import warnings

    import backtesting
    import pandas as pd

    panel = _load_panel(root)
    chosen = np.unique(np.linspace(0, panel.n_symbols - 1, min(sample, panel.n_symbols)).round().astype(int))
    frames = [pd.DataFrame({"Open": panel.open[s], "High": panel.high[s], "Low": panel.low[s], "Close": panel.close[s],
                            "Volume": panel.volume[s]}, index=pd.DatetimeIndex(panel.dates)) for s in chosen]
    strategy = _backtesting_strategy()
    warnings.filterwarnings("ignore", module="backtesting")  # "trades remain open", as they do in our engine

    def backtest(frame: pd.DataFrame) -> pd.Series:
        fee = _SideFee()
        return backtesting.Backtest(frame, strategy, cash=CASH, commission=fee).run(fee=fee)

    def once() -> tuple:
        started = time.perf_counter()
        stats = [backtest(frame) for frame in frames]
        return time.perf_counter() - started, stats

    first, timed, last = _time_runs(once, runs)
    rows = []
    for s, stats in zip(chosen.tolist(), last, strict=True):
        closed = stats["_trades"]
        rows += [(s, entry, exit_, size) for entry, exit_, size in zip(closed["EntryBar"], closed["ExitBar"],
                                                                      closed["Size"], strict=True)]
        rows += [(s, trade.entry_bar, -1, trade.size) for trade in stats["_strategy"].trades]
    _save_trades(root, "backtesting", *(np.array([row[i] for row in rows], dtype=np.int64) for i in range(4)))
    return {
        "version": backtesting.__version__, "sample": chosen.tolist(), "first_call_s": first,
        "runs": [t[0] for t in timed], "trades": len(rows), "peak_rss_mb": _peak_rss_mb(),
    }


def _run_worker(name: str, root: Path, options: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    completed = subprocess.run(
        [sys.executable, "-m", "bench.engine", "--worker", name, "--root", str(root), *options],
        capture_output=True, text=True, env=env,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the {name} worker failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the report ----------------------------------------------------------------------------------

def _comparison(root: Path, n_symbols: int, engine: dict, vbt: dict | None, bt: dict | None) -> dict:
    """Times scaled to the universe, ratios and trade matches of the comparison engines (None when absent)."""
    figures: dict = {key: None for key in (
        "vectorbt_version", "vectorbt_s", "vectorbt_portfolio_s", "vectorbt_first_call_s", "vectorbt_peak_rss_mb",
        "vectorbt_trades", "vectorbt_trades_match_rate", "backtesting_py_version", "backtesting_py_s",
        "backtesting_py_sample", "backtesting_py_sample_s", "backtesting_py_trades_match_rate", "ratio_vs_vectorbt",
        "ratio_vs_backtesting_py", "trades_match")}
    engine_s = statistics.median(engine["runs"])
    matches = []
    if vbt is not None:
        vbt_s = statistics.median(vbt["runs"])
        rate = _match_rate(_trade_set(root, "engine"), _trade_set(root, "vectorbt"))
        figures.update(vectorbt_version=vbt["version"], vectorbt_s=vbt_s, vectorbt_portfolio_s=vbt["portfolio_s"],
                       vectorbt_first_call_s=vbt["first_call_s"], vectorbt_peak_rss_mb=vbt["peak_rss_mb"],
                       vectorbt_trades=vbt["trades"], vectorbt_trades_match_rate=rate,
                       ratio_vs_vectorbt=vbt_s / engine_s)
        matches.append(rate == 1.0)
    if bt is not None:
        sample_s = statistics.median(bt["runs"])
        scaled = sample_s * n_symbols / len(bt["sample"])
        sampled = set(bt["sample"])
        rate = _match_rate(_trade_set(root, "engine", sampled), _trade_set(root, "backtesting", sampled))
        figures.update(backtesting_py_version=bt["version"], backtesting_py_s=scaled,
                       backtesting_py_sample=len(sampled), backtesting_py_sample_s=sample_s,
                       backtesting_py_trades_match_rate=rate, ratio_vs_backtesting_py=scaled / engine_s)
        matches.append(rate == 1.0)
    if vbt is not None and bt is not None:
        figures["trades_match"] = all(matches)
    return figures


def _targets(figures: dict) -> list[dict]:
    """The issue's targets that apply to this size: ``{"name", "limit", "value", "pass"}``."""
    found = []
    for symbols, years, accounts, seconds, rss_mb in TARGETS:
        if (symbols, years) != (figures["symbols"], figures["years"]) or accounts not in (None, figures["accounts"]):
            continue
        found.append({"name": "engine_s", "limit": seconds, "value": figures["engine_s"]})
        if rss_mb is not None:
            found.append({"name": "peak_rss_mb", "limit": rss_mb, "value": figures["peak_rss_mb"]})
    for target in found:
        target["pass"] = target["value"] < target["limit"]
    return found


def _print_table(f: dict) -> None:
    sizing = f["sizing"] + (f", max {f['max_positions']} positions" if f["max_positions"] else "")
    print(f"{STRATEGY}({FAST}, {SLOW}) on {f['symbols']:,} symbols x {f['years']} years ({f['bars']:,} bars), "
          f"{f['accounts']} accounts, {sizing}; next-open fills, {COMMISSION:.3%} commission, {SELL_TAX:.2%} sell tax")
    print(f"generation (not timed): {f['generate_s']:.1f} s; {f['cpus']} CPUs, load average {f['load_average']:.2f} "
          "before the timings (other work on the machine slows every figure)")
    print(f"{'':22}{'median':>12}{'first call':>12}{'peak RSS':>11}{'trades':>10}{'ratio':>9}")
    print(f"{'this engine':22}{_seconds(f['engine_s'])}{_seconds(f['first_call_s'])}{f['peak_rss_mb']:8.0f} MB"
          f"{f['trades']:>10,}{'':>9}   signals {_ms(f['signals_s'])} + engine {_ms(f['run_s'])}; "
          f"floor {_ms(f['floor_s'])} (two rolling means)")
    if f["vectorbt_s"] is not None:
        print(f"{'vectorbt ' + f['vectorbt_version']:22}{_seconds(f['vectorbt_s'])}"
              f"{_seconds(f['vectorbt_first_call_s'])}{f['vectorbt_peak_rss_mb']:8.0f} MB{f['vectorbt_trades']:>10,}"
              f"{f['ratio_vs_vectorbt']:>8.1f}x   from_signals alone {_ms(f['vectorbt_portfolio_s'])}; "
              f"trades matching {f['vectorbt_trades_match_rate']:.2%}")
    if f["backtesting_py_s"] is not None:
        print(f"{'backtesting.py ' + f['backtesting_py_version']:22}{_seconds(f['backtesting_py_s'])}{'':>12}"
              f"{'':>11}{'':>10}{f['ratio_vs_backtesting_py']:>8.0f}x   scaled up from {f['backtesting_py_sample']} "
              f"symbols ({_seconds(f['backtesting_py_sample_s']).strip()}); trades matching "
              f"{f['backtesting_py_trades_match_rate']:.2%} on them")
    note = f" ({f['comparison_note']})" if f["comparison_note"] else ""
    print(f"trades match: {_yes_no(f['trades_match'])}{note}")
    for target in f["targets"]:
        print(f"target {target['name']} < {target['limit']:g}: {'PASS' if target['pass'] else 'FAIL'} "
              f"({target['value']:.4g})")


def _seconds(value: float) -> str:
    return f"{value * 1000:9.2f} ms" if value < 1 else f"{value:10.3f} s"


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def _yes_no(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "no")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=2878)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--accounts", choices=["independent", "shared"], default="independent")
    parser.add_argument("--sizing", choices=["all_in", "equal_weight"],
                        help="default: all_in (independent), equal_weight (shared)")
    parser.add_argument("--max-positions", type=int, help=f"shared accounts only; default {SHARED_MAX_POSITIONS}")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs after the warm-up (median reported)")
    parser.add_argument("--bt-sample", type=int, default=BT_SAMPLE, help="symbols run through backtesting.py")
    parser.add_argument("--no-compare", action="store_true", help="skip vectorbt and backtesting.py")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--worker", choices=["engine", "vectorbt", "backtesting"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    return parser


def _settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, int | None]:
    """``(sizing, max_positions)`` with the defaults of the accounts mode; errors exit through ``parser``."""
    if args.symbols < 1 or args.years < 1 or args.runs < 1 or args.bt_sample < 1:
        parser.error("--symbols, --years, --runs and --bt-sample must be positive")
    if args.accounts == "independent":
        if args.max_positions is not None:
            parser.error("--max-positions applies to shared accounts only")
        return args.sizing or "all_in", None
    return args.sizing or "equal_weight", args.max_positions or SHARED_MAX_POSITIONS


def _comparison_note(args: argparse.Namespace) -> str | None:
    """Why vectorbt and backtesting.py are not run, or None when they are."""
    if args.no_compare:
        return "comparison skipped (--no-compare)"
    if args.accounts != "independent":
        return "vectorbt and backtesting.py are compared on independent accounts only"
    if not (_installed("vectorbt") and _installed("backtesting")):
        return "vectorbt and backtesting.py are not installed (requirements-bench.txt)"
    return None


def _measure(root: Path, args: argparse.Namespace, sizing: str, max_positions: int | None) -> dict:
    """Generate the universe under ``root``, run every worker and gather their figures."""
    started = time.perf_counter()
    bars = _save_universe(root, symbols=args.symbols, years=args.years, seed=args.seed)
    generate_s = time.perf_counter() - started
    options = ["--accounts", args.accounts, "--sizing", sizing, "--runs", str(args.runs), "--bt-sample",
               str(args.bt_sample), *(["--max-positions", str(max_positions)] if max_positions else [])]
    load = os.getloadavg()[0]  # other work on the machine slows every figure: say how busy it was
    engine = _run_worker("engine", root, options)
    note = _comparison_note(args)
    vbt = _run_worker("vectorbt", root, options) if note is None else None
    bt = _run_worker("backtesting", root, options) if note is None else None
    return {
        "strategy": STRATEGY, "params": {"fast": FAST, "slow": SLOW}, "symbols": args.symbols, "years": args.years,
        "bars": bars, "accounts": args.accounts, "sizing": sizing, "max_positions": max_positions,
        "commission": COMMISSION, "sell_tax": SELL_TAX, "fill": "next_open", "runs": args.runs,
        "cpus": os.cpu_count(), "load_average": load, "generate_s": generate_s,
        "engine_s": statistics.median(engine["runs"]), "engine_runs": engine["runs"],
        "signals_s": engine["signals_s"], "run_s": engine["run_s"], "first_call_s": engine["first_call_s"],
        "floor_s": engine["floor_s"], "peak_rss_mb": engine["peak_rss_mb"],
        "baseline_rss_mb": engine["baseline_rss_mb"], "trades": engine["trades"],
        **_comparison(root, args.symbols, engine, vbt, bt), "comparison_note": note,
    }


def _work(args: argparse.Namespace, sizing: str, max_positions: int | None) -> dict:
    root = Path(args.root)
    if args.worker == "engine":
        return _engine_worker(root, accounts=args.accounts, sizing=sizing, max_positions=max_positions,
                              runs=args.runs)
    if args.worker == "vectorbt":
        return _vectorbt_worker(root, runs=args.runs)
    return _backtesting_worker(root, sample=args.bt_sample, runs=args.runs)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table (or one JSON object) and return the figures."""
    parser = _parser()
    args = parser.parse_args(argv)
    sizing, max_positions = _settings(parser, args)
    if args.worker:
        figures = _work(args, sizing, max_positions)
        print(json.dumps(figures))
        return figures
    root = Path(tempfile.mkdtemp(prefix="bench-backtests-"))
    try:
        figures = _measure(root, args, sizing, max_positions)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures["targets"] = _targets(figures)
    figures["targets_met"] = all(t["pass"] for t in figures["targets"]) if figures["targets"] else None
    if args.json:
        print(json.dumps(figures))
    else:
        _print_table(figures)
    return figures


if __name__ == "__main__":
    main()
