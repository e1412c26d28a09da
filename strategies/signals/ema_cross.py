"""Exponential moving average crossover: long while the fast EMA is above the slow one.

Entry at bar t when EMA(fast) crosses above EMA(slow), exit when it crosses below (strict). Each EMA
uses ``alpha = 2 / (span + 1)``, starts at the symbol's first present close and is hidden for its
first ``span - 1`` bars (pandas ``ewm(span, adjust=False, min_periods=span)``), so the first possible
signal is on the ``slow + 1``-th present bar. Missing bars are skipped (see ``_bars``).
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

NAME = "ema_cross"
LABEL_KO = "지수이동평균 교차"
LABEL_EN = "EMA crossover"
PARAMS = [
    Param("fast", int, 12, min=1, max=250, step=1,
          help_ko="짧은 지수이동평균의 기간(봉 수)", help_en="Span of the fast exponential moving average"),
    Param("slow", int, 26, min=2, max=500, step=1,
          help_ko="긴 지수이동평균의 기간(봉 수), 짧은 기간보다 커야 함",
          help_en="Span of the slow exponential moving average; greater than fast"),
]


def check(params: dict[str, Any]) -> dict[str, list[str]]:
    """``slow`` must exceed ``fast`` (the message goes on ``slow``)."""
    if params["fast"] >= params["slow"]:
        return {"slow": [must_be_greater("fast", params["fast"])]}
    return {}


@by_row_blocks(when=RECURSION_COMPILED)
def signals(*, close: np.ndarray, fast: int, slow: int, open: np.ndarray | None = None,
            high: np.ndarray | None = None, low: np.ndarray | None = None) -> Signals:
    """Entries and exits (symbols x bars) from ``close``; NaN bars never signal."""
    bars, (prices,) = own_bars(close)
    up, down = crosses(ema(prices, fast), ema(prices, slow))
    return Signals(bars.unpack(up), bars.unpack(down))
