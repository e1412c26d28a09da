"""MACD crossover: long while the MACD line is above its signal line.

MACD = EMA(fast) - EMA(slow) of the close; the signal line is EMA(signal) of MACD, started at the
first defined MACD value. EMAs as in ``ema_cross`` (warm-up hidden), so MACD exists from the
``slow``-th present bar and the signal line from the ``slow + signal - 1``-th. Entry when MACD crosses
above the signal line, exit when it crosses below (strict). Missing bars are skipped (``_bars``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks
from ._windows import RECURSION_COMPILED, ema
from .crosses import crosses
from .params import Param, must_be_greater
from .result import Signals

NAME = "macd_cross"
LABEL_KO = "MACD 교차"
LABEL_EN = "MACD crossover"
PARAMS = [
    Param("fast", int, 12, min=1, max=250, step=1,
          help_ko="MACD 짧은 지수이동평균 기간", help_en="Span of the fast EMA in MACD"),
    Param("slow", int, 26, min=2, max=500, step=1,
          help_ko="MACD 긴 지수이동평균 기간, 짧은 기간보다 커야 함",
          help_en="Span of the slow EMA in MACD; greater than fast"),
    Param("signal", int, 9, min=1, max=250, step=1,
          help_ko="시그널선(MACD의 지수이동평균) 기간", help_en="Span of the signal line (EMA of MACD)"),
]


def check(params: dict[str, Any]) -> dict[str, list[str]]:
    """``slow`` must exceed ``fast`` (the message goes on ``slow``)."""
    if params["fast"] >= params["slow"]:
        return {"slow": [must_be_greater("fast", params["fast"])]}
    return {}


@by_row_blocks(when=RECURSION_COMPILED)
def signals(*, close: np.ndarray, fast: int, slow: int, signal: int, open: np.ndarray | None = None,
            high: np.ndarray | None = None, low: np.ndarray | None = None) -> Signals:
    """Entries and exits (symbols x bars) from ``close``; NaN bars never signal."""
    bars, (prices,) = own_bars(close)
    macd = ema(prices, fast) - ema(prices, slow)
    up, down = crosses(macd, ema(macd, signal))
    return Signals(bars.unpack(up), bars.unpack(down))
