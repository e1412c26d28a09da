"""Daily bars from pykrx (scrapes KRX/Naver public pages): a last-resort fallback.

pykrx is imported lazily (it logs in to KRX at import time) and every failure, including having no
network, becomes a transient ``ProviderError``. Pace it (~1 request/s) and prefer the brokers.
Pure module: no Django imports.
"""

from __future__ import annotations

import contextlib
import io
from datetime import date
from typing import Any

import numpy as np

from .base import DataProvider, InstrumentRecord, ProviderBars, ProviderError

COLUMNS = {"open": "시가", "high": "고가", "low": "저가", "close": "종가", "volume": "거래량"}
VALUE_COLUMN = "거래대금"
MARKETS = ("KOSPI", "KOSDAQ", "KONEX")
REASON_LIMIT = 200
# an optional extra: it alone would bring pandas, matplotlib and pillow into the runtime (requirements.in)
NOT_INSTALLED = "pykrx is not installed (optional): .venv/bin/pip install -r requirements-pykrx.txt"


def _stock_api() -> Any:
    """``pykrx.stock``; its import prints a KRX login notice, which we keep out of our output."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from pykrx import stock
    except ModuleNotFoundError as exc:
        if exc.name != "pykrx":
            raise ProviderError(f"pykrx is not usable: {_describe(exc)}", permanent=True) from None
        raise ProviderError(NOT_INSTALLED, permanent=True) from None
    except Exception as exc:  # noqa: BLE001 - any import failure means "provider unavailable"
        raise ProviderError(f"pykrx is not usable: {_describe(exc)}", permanent=True) from None
    return stock


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


class PykrxProvider(DataProvider):
    """``pykrx.stock.get_market_ohlcv(start, end, code)``; halted days (open/high/low 0) are dropped."""

    name = "pykrx"

    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        stock = _stock_api()
        try:
            frame = stock.get_market_ohlcv(start.strftime("%Y%m%d"), end.strftime("%Y%m%d"), code)
        except Exception as exc:  # noqa: BLE001 - pykrx raises anything from KeyError to JSONDecodeError
            raise ProviderError(f"pykrx failed: {_describe(exc)}", permanent=False) from None
        if frame is None or len(frame) == 0:
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        missing = [name for name in COLUMNS.values() if name not in frame.columns]
        if missing:
            raise ProviderError(f"unexpected pykrx columns (missing {', '.join(missing)})", permanent=False)
        dates = np.asarray(frame.index.values, dtype="datetime64[D]")
        columns = {key: frame[name].to_numpy(dtype=np.float64) for key, name in COLUMNS.items()}
        value = frame[VALUE_COLUMN].to_numpy(dtype=np.float64) if VALUE_COLUMN in frame.columns else None
        traded = (columns["open"] > 0) & (columns["high"] > 0) & (columns["low"] > 0)
        bars = ProviderBars.build(
            dates[traded], *(columns[k][traded] for k in COLUMNS), value=None if value is None else value[traded]
        ).between(start, end)
        if not len(bars):
            raise ProviderError(f"empty answer for {code} {start}..{end}", permanent=False)
        return bars

    def instruments(self) -> list[InstrumentRecord]:
        """KOSPI, KOSDAQ and KONEX tickers with their Korean names (one name lookup per ticker)."""
        stock = _stock_api()
        records = []
        try:
            for market in MARKETS:
                for code in stock.get_market_ticker_list(market=market):
                    records.append(InstrumentRecord(code=str(code), name=str(stock.get_market_ticker_name(code)),
                                                    market=market))
        except Exception as exc:  # noqa: BLE001
            raise ProviderError(f"pykrx failed: {_describe(exc)}", permanent=False) from None
        if not records:
            raise ProviderError("empty instrument list", permanent=False)
        return records
