"""The result file of a run: series, trades, signals and the full metrics, in one compressed ``.npz``.

Written once by the task, read lazily by pages and the API through Django storage (local media by
default, any storage backend later). Columns are numpy arrays (no pickles); the metrics, per-symbol
rows and benchmark metrics travel as one JSON document inside the archive. Reads are cached per
process by file name (a result never changes once written), so the results page and the API do
not re-read and decompress the same file under load.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from backtests.engine import REASONS, Result
from backtests.engine.result import lot_decimals, quantity

FORMAT_VERSION = 1
SIGNAL_KINDS = ("entry", "exit")
_EPOCH = np.datetime64("1970-01-01", "D")


def jsonable(value: Any) -> Any:
    """Metrics to JSON: NaN and infinities become None, numpy scalars and dates plain values."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.datetime64):
        return str(value.astype("datetime64[D]"))
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _days(dates: np.ndarray) -> np.ndarray:
    return (np.asarray(dates, dtype="datetime64[D]") - _EPOCH).astype(np.int32)


def encode(result: Result) -> bytes:
    """The archive bytes of an engine ``Result``."""
    panel = result.panel
    t = result.arrays.trades
    closed = t.closed
    has_bar = panel.has_bar
    sig_parts = []
    for kind, mask in enumerate((result.entries, result.exits)):
        sym, bar = np.nonzero(mask & has_bar)
        sig_parts.append((bar, sym, np.full(bar.shape, kind, dtype=np.int8)))
    sig_bar, sig_sym, sig_kind = (np.concatenate(parts) for parts in zip(*sig_parts, strict=True))
    order = np.lexsort((sig_kind, sig_sym, sig_bar))
    sig_bar, sig_sym, sig_kind = sig_bar[order], sig_sym[order], sig_kind[order]
    counts, edges = result.trade_return_histogram
    meta = {
        "format": FORMAT_VERSION,
        "metrics": result.metrics,
        "per_symbol": result.per_symbol,
        "benchmark": result.benchmark["metrics"],
        "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
    }
    arrays = {
        "dates": _days(panel.dates),
        "symbols": np.asarray(panel.symbols, dtype=str),
        "equity": result.equity,
        "cash": result.cash,
        "drawdown": result.drawdown,
        "benchmark": np.asarray(result.benchmark["equity"], dtype=np.float64),
        "t_symbol": t.symbol.astype(np.int32),
        "t_entry_bar": t.entry_bar.astype(np.int32),
        "t_exit_bar": t.exit_bar.astype(np.int32),
        "t_shares": t.shares.astype(np.float64),  # quantities: fractions of a lot size below 1 (crypto)
        "lots": np.ones(panel.n_symbols) if result.lots is None else np.asarray(result.lots, dtype=np.float64),
        "t_held": t.bars_held.astype(np.int32),
        "t_reason": t.reason.astype(np.int8),
        "t_entry_price": t.entry_price,
        "t_exit_price": np.where(closed, t.exit_price, np.nan),
        "t_gross": t.gross_return,
        "t_net": t.net_return,
        "t_pnl": t.pnl,
        "t_commission": t.commission,
        "t_tax": t.tax,
        "t_slippage": t.slippage,
        "s_bar": sig_bar.astype(np.int32),
        "s_symbol": sig_sym.astype(np.int32),
        "s_kind": sig_kind,
        "s_price": panel.close[sig_sym, sig_bar] if sig_bar.size else np.zeros(0),
        "meta": np.frombuffer(json.dumps(jsonable(meta)).encode(), dtype=np.uint8),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def save(*, run_id: int, owner_id: int, result: Result) -> str:
    """Store the archive under a name never used before (the read cache keys on it); returns it."""
    name = f"backtests/{owner_id}/run-{run_id}-{uuid.uuid4().hex[:12]}.npz"
    return default_storage.save(name, ContentFile(encode(result)))


@dataclass(frozen=True, eq=False)
class RunResult:
    """A stored result, decoded on demand."""

    arrays: dict[str, np.ndarray]

    @cached_property
    def meta(self) -> dict[str, Any]:
        return json.loads(self.arrays["meta"].tobytes().decode())

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta["metrics"]

    @property
    def per_symbol(self) -> list[dict[str, Any]]:
        return self.meta["per_symbol"]

    @property
    def histogram(self) -> dict[str, list]:
        return self.meta["histogram"]

    @cached_property
    def dates(self) -> list[str]:
        return [str(day) for day in (_EPOCH + self.arrays["dates"].astype("timedelta64[D]"))]

    @cached_property
    def symbols(self) -> list[str]:
        return [str(symbol) for symbol in self.arrays["symbols"]]

    def series(self) -> dict[str, list]:
        """Daily ``dates``, ``equity``, ``cash``, ``drawdown`` and ``benchmark`` (buy and hold)."""
        return {
            "dates": self.dates,
            **{name: jsonable(self.arrays[name].tolist()) for name in ("equity", "cash", "drawdown", "benchmark")},
        }

    @cached_property
    def results_json(self) -> bytes:
        """The results API's body, encoded once per process (a stored result never changes)."""
        body = {"metrics": self.metrics, "per_symbol": self.per_symbol, "histogram": self.histogram,
                "series": self.series()}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    @cached_property
    def lots(self) -> list[float]:
        """Each symbol's lot size (results stored before lots existed: whole shares)."""
        if "lots" in self.arrays:
            return [float(lot) for lot in self.arrays["lots"]]
        return [1.0] * len(self.symbols)

    @cached_property
    def quantity_decimals(self) -> dict[str, int]:
        """``{symbol: decimals its quantities are shown with}`` (0 for stocks, 8 for Upbit pairs)."""
        return {symbol: lot_decimals(lot) for symbol, lot in zip(self.symbols, self.lots, strict=True)}

    @cached_property
    def trades(self) -> list[dict[str, Any]]:
        """One dict per trade in the order they were opened; an open position has no exit.
        ``shares`` is an int for stocks and a float rounded to the lot's decimals for crypto."""
        a, dates, symbols, lots = self.arrays, self.dates, self.symbols, self.lots
        columns = {name: a[name].tolist() for name in a if name.startswith("t_")}
        rows = []
        for i in range(len(columns["t_symbol"])):
            exit_bar = columns["t_exit_bar"][i]
            closed = exit_bar >= 0
            commission, tax, slippage = columns["t_commission"][i], columns["t_tax"][i], columns["t_slippage"][i]
            rows.append({
                "symbol": symbols[columns["t_symbol"][i]],
                "entry_date": dates[columns["t_entry_bar"][i]],
                "entry_price": columns["t_entry_price"][i],
                "exit_date": dates[exit_bar] if closed else None,
                "exit_price": columns["t_exit_price"][i] if closed else None,
                "shares": quantity(columns["t_shares"][i], lots[columns["t_symbol"][i]]),
                "gross_return": jsonable(columns["t_gross"][i]),
                "net_return": jsonable(columns["t_net"][i]),
                "pnl": jsonable(columns["t_pnl"][i]),
                "commission": commission,
                "tax": tax,
                "slippage": slippage,
                "costs": commission + tax + slippage,
                "holding_days": columns["t_held"][i],
                "exit_reason": REASONS[columns["t_reason"][i]],
            })
        return rows

    @cached_property
    def signals(self) -> list[dict[str, Any]]:
        """Entry and exit signals by date then symbol; ``price`` is that bar's close."""
        a, dates, symbols = self.arrays, self.dates, self.symbols
        return [
            {"date": dates[bar], "symbol": symbols[sym], "type": SIGNAL_KINDS[kind], "price": price}
            for bar, sym, kind, price in zip(
                a["s_bar"].tolist(), a["s_symbol"].tolist(), a["s_kind"].tolist(), a["s_price"].tolist(), strict=True,
            )
        ]


TRADE_SORTS = {"entry_date", "exit_date", "net_return", "symbol", "exit_reason", "holding_days", "pnl"}


def sorted_trades(trades: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """Trades ordered by ``sort`` (a key of :data:`TRADE_SORTS`, ``-`` for descending); trades
    without that value (an open position's exit) come last; an unknown key keeps the order."""
    key = sort.lstrip("-")
    if key not in TRADE_SORTS:
        return trades
    present = [t for t in trades if t.get(key) is not None]
    missing = [t for t in trades if t.get(key) is None]
    return sorted(present, key=lambda t: t[key], reverse=sort.startswith("-")) + missing


def decode(data: bytes) -> RunResult:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return RunResult({name: archive[name] for name in archive.files})


_CACHE: OrderedDict[str, RunResult] = OrderedDict()
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def load(name: str) -> RunResult:
    """The result stored as ``name``, from the per-process cache when it was read before."""
    with _LOCK:
        cached = _CACHE.get(name)
        if cached is not None:
            _CACHE.move_to_end(name)
            return cached
    with default_storage.open(name, "rb") as handle:
        result = decode(handle.read())
    with _LOCK:
        _CACHE[name] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def forget(name: str) -> None:
    with _LOCK:
        _CACHE.pop(name, None)
