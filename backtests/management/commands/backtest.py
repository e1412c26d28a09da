"""``manage.py backtest``: one backtest from the command line, on the bar store or on CSV files.

A door like the web pages and the Celery task: it parses the arguments, calls ``backtests.pipeline``
(the same path as every other door) and prints a text report or one JSON object. Every bad
argument ends in a one-line ``CommandError`` (exit status 1) naming the problem; the messages are
the constants below, which the tests assert on.

The output is English whatever the site language: the report is a fixed-width table read by
people and by scripts alike, and a half-translated table (the catalogue already holds a few of its
words) helps neither. The translated door is the web page.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backtests.engine import Costs, EngineConfig, Panel, Result
from backtests.engine.costs import DEFAULT_MARKET
from backtests.pipeline import NoBarsError, panel_from_csv, panel_from_store, run_strategy
from core import csvfile
from marketdata.store import CRYPTO_MARKET, BarStore
from strategies import signals

SOURCE_REQUIRED = "Give --csv FILE_OR_DIR or --codes CODE[,CODE...]."
SOURCE_BOTH = "Give either --csv or --codes, not both."
NO_CODES = "--codes names no code."
NOT_A_DATE = "{option} '{value}' is not a date (expected YYYY-MM-DD)."
END_BEFORE_START = "--end {end} is before --start {start}."
NOT_A_NUMBER = "{option} '{value}' is not a number."
NOT_A_CHOICE = "{option} '{value}' is not one of: {choices}."
STRATEGY_REQUIRED = "Give --strategy; known types: {known}."
PARAM_SYNTAX = "--param '{value}' is not NAME=VALUE (e.g. --param fast=10)."
PARAM_TWICE = "--param {name} is given twice."
BAD_PARAMS = "Invalid --param for {strategy}: {errors}"
BAD_SIZING = (
    "--sizing '{value}' is not all_in, equal_weight, fixed_krw=N (KRW per position) or pct_equity=P "
    "(a fraction of equity, 0 < P <= 1)."
)
BAD_SETTING = "Invalid setting: {error}."
NO_DATA = "No data: {error}; bar store: {root}."
BAD_CSV = "Bad --csv data: {error}"
CANNOT_WRITE = "--trades-out: cannot write {path}: {error}"
KOSPI_ASSUMED = "CSV files carry no market: the KOSPI sell tax by date is assumed (give --sell-tax to set one)."

FILLS = ("next_open", "close")
ACCOUNTS = ("independent", "shared")
TRADES_HEADER = ("symbol", "entry_date", "entry_price", "shares", "exit_date", "exit_price", "return_pct",
                 "exit_reason")


@dataclass(frozen=True)
class _Request:
    strategy: str
    params: dict[str, Any]
    config: EngineConfig
    csv: Path | None = None
    codes: list[str] = field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None


class Command(BaseCommand):
    help = (
        "Backtest one strategy type on daily bars and print a report: from the bar store "
        "(--codes, each code's market sets the dated sell tax) or from CSV files (--csv, columns "
        "date,open,high,low,close,volume, one file per symbol named <code>.csv; the KOSPI sell tax "
        "is assumed). --param values go through the strategy type's schema. --json prints one JSON "
        "object: metrics, final_equity {total, per_symbol}, per_symbol, benchmark, trades (count of "
        "closed and open trades) and the inputs. A symbol's final equity is its own account's with "
        "--accounts independent, and its equal share of the starting cash plus its P&L with a shared "
        "account (so the symbols add up to the total). Exit status 1 with a one-line message on any "
        "bad argument."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", help="a bar CSV file, or a folder of them (file stem = code)")
        parser.add_argument("--codes", help="comma-separated codes from the bar store, e.g. 005930,000660")
        parser.add_argument("--start", help="first date, YYYY-MM-DD (default: all data)")
        parser.add_argument("--end", help="last date, YYYY-MM-DD (default: all data)")
        parser.add_argument("--strategy", help=f"strategy type: {', '.join(signals.REGISTRY)}")
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="a strategy parameter, repeatable (e.g. --param fast=10 --param slow=30)")
        parser.add_argument("--cash", default="10000000", help="starting capital in KRW (default 10000000; "
                            "per symbol with --accounts independent)")
        parser.add_argument("--commission", default="0.00015", help="commission per side, a fraction "
                            "(default 0.00015 = 0.015 %%)")
        parser.add_argument("--sell-tax", help="a fixed sell tax, a fraction (default: the statutory rate "
                            "by market and settlement date, the trade date + 2 KRX trading days: on "
                            "KOSPI/KOSDAQ 0.0018 for sells settled in 2024, 0.0015 in 2025, 0.002 from 2026)")
        parser.add_argument("--slippage-bps", default="0", help="slippage in basis points against every fill "
                            "(default 0)")
        parser.add_argument("--fill", default="next_open", help="next_open (default) or close")
        parser.add_argument("--accounts", default="shared", help="shared (default: one cash balance) or "
                            "independent (each symbol its own account with the full --cash)")
        parser.add_argument("--sizing", default="equal_weight", help="equal_weight (default), all_in, "
                            "fixed_krw=N (N KRW per position) or pct_equity=P (fraction P of equity, 0 < P <= 1)")
        parser.add_argument("--trades-out", metavar="FILE", help="write the trades as CSV: " + ",".join(
            TRADES_HEADER) + " (fill dates and reference prices; exit_date/exit_price empty for a position "
            "still open; return_pct = net return in percent: KRW received after sell commission, tax and "
            "slippage over KRW paid including buy commission and slippage, minus 1, times 100; an open "
            "position is valued at the last close without sell costs)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")

    def handle(self, *args: Any, **options: Any) -> None:
        request = _parse(options)
        panel, markets, notes = _load(request)
        config = request.config
        if markets and all(market == CRYPTO_MARKET for market in markets):
            config = replace(config, periods_per_year=365)  # crypto trades every day
        try:
            result = run_strategy(panel, strategy_type=request.strategy, params=request.params, config=config,
                                  markets=markets)
        except ValueError as error:
            raise CommandError(str(BAD_SETTING).format(error=str(error).rstrip("."))) from error
        if options["trades_out"]:
            _write_trades(result, Path(options["trades_out"]))
        if options["json"]:
            payload = _payload(request, result, markets, notes)
            self.stdout.write(json.dumps(_jsonable(payload), ensure_ascii=False, allow_nan=False))
        else:
            self.stdout.write("\n".join(_report(request, result, markets, notes)))


# --- arguments -------------------------------------------------------------------------------


def _parse(options: dict[str, Any]) -> _Request:
    """Every argument checked, in the order a reader fixes them; raises CommandError."""
    if options["csv"] and options["codes"]:
        raise CommandError(SOURCE_BOTH)
    if not options["csv"] and options["codes"] is None:
        raise CommandError(SOURCE_REQUIRED)
    codes = [code.strip().upper() for code in (options["codes"] or "").split(",") if code.strip()]
    if options["codes"] is not None and not codes:
        raise CommandError(NO_CODES)
    start, end = _date("--start", options["start"]), _date("--end", options["end"])
    if start and end and end < start:
        raise CommandError(str(END_BEFORE_START).format(start=start, end=end))
    strategy = options["strategy"]
    if not strategy:
        raise CommandError(str(STRATEGY_REQUIRED).format(known=", ".join(signals.REGISTRY)))
    try:
        params = signals.validate_params(strategy, _raw_params(options["param"]))
    except signals.UnknownStrategyType as error:
        raise CommandError(f"{error}.") from error
    except signals.ParamError as error:
        errors = " ".join(f"{name}: {' '.join(messages)}" for name, messages in error.errors.items())
        raise CommandError(str(BAD_PARAMS).format(strategy=strategy, errors=errors)) from error
    return _Request(strategy=strategy, params=params, config=_config(options),
                    csv=Path(options["csv"]) if options["csv"] else None, codes=codes, start=start, end=end)


def _raw_params(items: list[str]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CommandError(str(PARAM_SYNTAX).format(value=item))
        if name in raw:
            raise CommandError(str(PARAM_TWICE).format(name=name))
        raw[name] = value
    return raw


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(str(NOT_A_DATE).format(option=option, value=value)) from None


def _number(option: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise CommandError(str(NOT_A_NUMBER).format(option=option, value=value))
    return number


def _choice(option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise CommandError(str(NOT_A_CHOICE).format(option=option, value=value, choices=", ".join(choices)))
    return value


def _sizing(value: str) -> str | tuple[str, float]:
    if value in ("all_in", "equal_weight"):
        return value
    kind, sep, amount = value.partition("=")
    if sep and kind in ("fixed_krw", "pct_equity"):
        try:
            number = float(amount)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return kind, number
    raise CommandError(str(BAD_SIZING).format(value=value))


def _config(options: dict[str, Any]) -> EngineConfig:
    sell_tax = options["sell_tax"]
    try:
        costs = Costs(commission=_number("--commission", options["commission"]),
                      slippage_bps=_number("--slippage-bps", options["slippage_bps"]),
                      sell_tax=None if sell_tax is None else _number("--sell-tax", sell_tax))
        return EngineConfig(cash=_number("--cash", options["cash"]), costs=costs,
                            fill=_choice("--fill", options["fill"], FILLS),
                            accounts=_choice("--accounts", options["accounts"], ACCOUNTS),
                            sizing=_sizing(options["sizing"]))
    except ValueError as error:
        raise CommandError(str(BAD_SETTING).format(error=error)) from error


def _load(request: _Request) -> tuple[Panel, list[str], list[str]]:
    """The panel, each symbol's market, and notes for the reader."""
    if request.csv is not None:
        try:
            panel = panel_from_csv(request.csv, start=request.start, end=request.end)
        except ValueError as error:
            raise CommandError(str(BAD_CSV).format(error=error)) from error
        notes = [] if request.config.costs.sell_tax is not None else [str(KOSPI_ASSUMED)]
        # a "KRW-..." file is an Upbit pair (crypto: no tax, 1e-8 lots), any other the KOSPI's
        markets = [CRYPTO_MARKET if code.upper().startswith("KRW-") else DEFAULT_MARKET for code in panel.symbols]
        if all(market == CRYPTO_MARKET for market in markets):
            notes = []
        return panel, markets, notes
    root = settings.MARKET_DATA_ROOT
    try:
        panel, markets = panel_from_store(BarStore(root), request.codes, request.start, request.end)
    except NoBarsError as error:
        raise CommandError(str(NO_DATA).format(error=error, root=root)) from error
    except ValueError as error:  # a malformed code
        raise CommandError(f"--codes: {error}.") from error
    return panel, markets, []


# --- output ----------------------------------------------------------------------------------


def _final_equity(result: Result) -> dict[str, float]:
    """Per symbol: its own account (independent), else an equal share of the cash plus its P&L."""
    rows = result.per_symbol
    if result.config.accounts == "independent":
        return {row["symbol"]: row["final_equity"] for row in rows}
    share = result.config.cash / max(len(rows), 1)
    return {row["symbol"]: share + row["pnl"] for row in rows}


def _payload(request: _Request, result: Result, markets: list[str], notes: list[str]) -> dict[str, Any]:
    metrics = result.metrics
    dates = result.dates
    per_symbol_equity = _final_equity(result)
    return {
        "strategy": request.strategy,
        "params": request.params,
        "config": asdict(result.config),
        "source": {"csv": str(request.csv)} if request.csv else {"codes": request.codes},
        "period": {"start": dates[0] if dates.size else None, "end": dates[-1] if dates.size else None,
                   "bars": int(dates.size)},
        "symbols": [{"code": code, "market": market} for code, market in zip(result.panel.symbols, markets,
                                                                                strict=True)],
        "metrics": metrics,
        "final_equity": {"total": metrics["final_equity"], "per_symbol": per_symbol_equity},
        "per_symbol": [{**row, "market": market, "final_equity": per_symbol_equity[row["symbol"]]}
                       for row, market in zip(result.per_symbol, markets, strict=True)],
        "benchmark": metrics["benchmark"],
        "trades": len(result.trade_table),
        "notes": notes,
    }


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, NaN and infinities as null, numpy values as plain ones."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars and datetime64
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _shares(value: int | float) -> str:
    """A quantity as written: whole shares plainly, a crypto fraction without an exponent."""
    return str(value) if isinstance(value, int) else f"{value:.10f}".rstrip("0").rstrip(".")


def _write_trades(result: Result, path: Path) -> None:
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csvfile.Writer(handle, lineterminator="\n")
            writer.writerow(TRADES_HEADER)
            for trade in result.trades:
                writer.writerow([
                    trade.symbol, trade.entry_date.isoformat(), _plain(trade.entry_price), _shares(trade.shares),
                    trade.exit_date.isoformat() if trade.exit_date else "",
                    _plain(trade.exit_price) if trade.exit_price is not None else "",
                    f"{trade.net_return * 100:.4f}", trade.exit_reason,
                ])
    except OSError as error:
        raise CommandError(str(CANNOT_WRITE).format(path=path, error=error.strerror or error)) from error


def _plain(price: float) -> str:
    """70100 for 70100.0, 70125.5 for 70125.5: a price as the market quotes it."""
    return str(int(price)) if float(price).is_integer() else f"{price:.6f}".rstrip("0")


def _pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * 100:,.2f} %"


def _rate(value: float) -> str:
    """A cost rate in percent with its significant digits: 0.015 %, 0.18 %."""
    return f"{value * 100:.6g} %"


def _ratio(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _krw(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:,.0f} KRW"


def _report(request: _Request, result: Result, markets: list[str], notes: list[str]) -> list[str]:
    metrics, bench, config = result.metrics, result.metrics["benchmark"], result.config
    dates, costs = result.dates, result.metrics["costs"]
    params = ", ".join(f"{name}={value}" for name, value in request.params.items())
    sizing = config.sizing if isinstance(config.sizing, str) else "=".join(str(part) for part in config.sizing)
    tax = "sell tax by market and date" if config.costs.sell_tax is None else f"sell tax {_rate(config.costs.sell_tax)}"
    period = f"{dates[0]} … {dates[-1]}" if dates.size else "-"
    symbols = ", ".join(f"{code} ({market})" for code, market in zip(result.panel.symbols, markets, strict=True))
    lines = [
        f"Backtest {request.strategy}" + (f" ({params})" if params else ""),
        f"Period      {period} ({dates.size:,} bars)",
        f"Symbols     {symbols}",
        f"Settings    cash {_krw(config.cash)}, commission {_rate(config.costs.commission)}, {tax}, "
        f"slippage {config.costs.slippage_bps:g} bps, fill {config.fill}, {config.accounts} accounts, sizing {sizing}",
        *(f"Note        {note}" for note in notes),
        "",
        f"{'':<16}{'Strategy':>20}{'Benchmark':>20}",
    ]
    rows = [
        ("Total return", _pct(metrics["total_return"]), _pct(bench["total_return"])),
        ("CAGR", _pct(metrics["cagr"]), _pct(bench["cagr"])),
        ("Max drawdown", _pct(metrics["max_drawdown"]), _pct(bench["max_drawdown"])),
        ("  peak", str(metrics["max_drawdown_peak"] or "-"), str(bench["max_drawdown_peak"] or "-")),
        ("  trough", str(metrics["max_drawdown_trough"] or "-"), str(bench["max_drawdown_trough"] or "-")),
        ("Sharpe", _ratio(metrics["sharpe"]), _ratio(bench["sharpe"])),
        ("Win rate", _pct(metrics["win_rate"]), ""),
        ("Trades", f"{metrics['trades']} closed, {metrics['open_trades']} open", ""),
        ("Final equity", _krw(metrics["final_equity"]), _krw(bench["final_equity"])),
        ("Total costs", _krw(costs["total"]), ""),
    ]
    lines += [f"{label:<16}{mine:>20}{theirs:>20}" for label, mine, theirs in rows]
    lines += [
        f"  commission {_krw(costs['commission'])}, tax {_krw(costs['tax'])}, slippage {_krw(costs['slippage'])}",
        "Benchmark: equal-weight buy and hold of the same symbols, same costs and fill rule.",
        "",
        f"{'Symbol':<12}{'Market':<8}{'Trades':>8}{'Win rate':>12}{'P&L':>20}{'Final equity':>22}",
    ]
    equity = _final_equity(result)
    for row, market in zip(result.per_symbol, markets, strict=True):
        lines.append(f"{row['symbol']:<12}{market:<8}{row['trades']:>8}{_pct(row['win_rate']):>12}"
                     f"{_krw(row['pnl']):>20}{_krw(equity[row['symbol']]):>22}")
    return lines
