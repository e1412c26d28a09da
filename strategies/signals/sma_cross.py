"""Simple moving average crossover: long while the fast SMA is above the slow one.

Entry at bar t when SMA(fast) crosses above SMA(slow), exit when it crosses below (strict crosses,
see ``crosses``). Averages run over each symbol's own present bars (see ``_bars``); the first
possible signal is on the symbol's ``slow + 1``-th present bar.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks
from ._windows import rolling_means
from .crosses import crosses
from .params import Param, must_be_greater
from .result import Signals

NAME = "sma_cross"
LABEL_KO = "단순이동평균 교차"
LABEL_EN = "SMA crossover"
PARAMS = [
    Param("fast", int, 10, min=1, max=250, step=1,
          help_ko="짧은 이동평균의 기간(봉 수)", help_en="Bars in the fast moving average"),
    Param("slow", int, 30, min=2, max=500, step=1,
          help_ko="긴 이동평균의 기간(봉 수), 짧은 기간보다 커야 함",
          help_en="Bars in the slow moving average; greater than fast"),
]


def check(params: dict[str, Any]) -> dict[str, list[str]]:
    """``slow`` must exceed ``fast`` (the message goes on ``slow``)."""
    if params["fast"] >= params["slow"]:
        return {"slow": [must_be_greater("fast", params["fast"])]}
    return {}


@by_row_blocks
def signals(*, close: np.ndarray, fast: int, slow: int, open: np.ndarray | None = None,
            high: np.ndarray | None = None, low: np.ndarray | None = None) -> Signals:
    """Entries and exits (symbols x bars) from ``close``; NaN bars never signal."""
    bars, (prices,) = own_bars(close)
    fast_ma, slow_ma = rolling_means(prices, [fast, slow])
    up, down = crosses(fast_ma, slow_ma)
    return Signals(bars.unpack(up), bars.unpack(down))
