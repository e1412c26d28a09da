"""Downloads of a finished run: the whole result as JSON, trades and signals as CSV.

CSV files start with a UTF-8 byte order mark so that Excel (which Korean users open them in) reads
Korean text correctly; numbers are plain (no thousands separators), dates ISO; text that a
spreadsheet would run as a formula is neutralised (``core.csvfile``).
"""

from __future__ import annotations

import json
from typing import Any

from backtests import results
from backtests.models import BacktestRun
from core.csvfile import csv_bytes
from marketdata.selectors import instrument_names

TRADE_COLUMNS = [
    "symbol", "name", "entry_date", "entry_price", "exit_date", "exit_price", "shares", "gross_return_pct",
    "net_return_pct", "pnl", "commission", "tax", "slippage", "holding_days", "exit_reason",
]
SIGNAL_COLUMNS = ["date", "symbol", "name", "type", "price"]


def _percent(value: float | None) -> float | str:
    return "" if value is None else round(value * 100, 4)


def _quantity(value: float, decimals: int) -> int | str:
    """Whole shares as they are; a crypto quantity with its lot's decimals, never "5e-05"."""
    return int(value) if decimals == 0 else f"{value:.{decimals}f}"


def _csv(columns: list[str], rows: list[list[Any]]) -> bytes:
    return csv_bytes(columns, rows)


def trades_csv(run: BacktestRun) -> bytes:
    names = instrument_names(codes=run.codes)
    stored = results.load(run.result_file.name)
    decimals = stored.quantity_decimals
    rows = [
        [t["symbol"], names.get(t["symbol"], ""), t["entry_date"], t["entry_price"], t["exit_date"] or "",
         "" if t["exit_price"] is None else t["exit_price"], _quantity(t["shares"], decimals.get(t["symbol"], 0)),
         _percent(t["gross_return"]),
         _percent(t["net_return"]), "" if t["pnl"] is None else round(t["pnl"], 2), round(t["commission"], 2),
         round(t["tax"], 2), round(t["slippage"], 2), t["holding_days"], t["exit_reason"]]
        for t in stored.trades
    ]
    return _csv(TRADE_COLUMNS, rows)


def signals_csv(run: BacktestRun) -> bytes:
    names = instrument_names(codes=run.codes)
    stored = results.load(run.result_file.name)
    rows = [[s["date"], s["symbol"], names.get(s["symbol"], ""), s["type"], s["price"]] for s in stored.signals]
    return _csv(SIGNAL_COLUMNS, rows)


def run_inputs(run: BacktestRun) -> dict[str, Any]:
    """What the run froze, as JSON-ready values."""
    return {
        "strategy_type": run.strategy_type, "params": run.params, "codes": run.codes,
        "start": run.start.isoformat(), "end": run.end.isoformat(), "cash": run.cash,
        "commission": float(run.commission), "sell_tax": None if run.sell_tax is None else float(run.sell_tax),
        "slippage_bps": float(run.slippage_bps), "fill": run.fill, "accounts": run.accounts, "options": run.options,
        "coverage": run.coverage, "engine_version": run.engine_version,
    }


def result_document(run: BacktestRun) -> dict[str, Any]:
    stored = results.load(run.result_file.name)
    return {
        "id": run.pk,
        "title": run.title,
        "status": run.status,
        "inputs": run_inputs(run),
        "metrics": stored.metrics,
        "per_symbol": stored.per_symbol,
        "histogram": stored.histogram,
        "series": stored.series(),
        "trades": stored.trades,
        "signals": stored.signals,
    }


def result_json(run: BacktestRun) -> bytes:
    return json.dumps(result_document(run), ensure_ascii=False).encode("utf-8")


def filename(run: BacktestRun, kind: str) -> str:
    extension = "json" if kind == "result" else "csv"
    return f"backtest-{run.pk}-{kind}.{extension}"
