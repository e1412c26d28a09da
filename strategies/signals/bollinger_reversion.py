"""Bollinger band mean reversion: buy a fall through the lower band, sell the return to the middle.

Middle band = SMA(period) of the close, lower band = middle - width x the population standard
deviation (ddof=0, Bollinger's definition) over the same ``period`` bars. Entry at t when the close
crosses below the lower band (``close[t] < lower[t]`` and ``close[t-1] >= lower[t-1]``); exit when the
close crosses above the middle band (``close[t] > middle[t]`` and ``close[t-1] <= middle[t-1]``).
The bands exist from the ``period``-th present bar, so the first signal can come on the next one.
Missing bars are skipped (see ``_bars``).
"""

from __future__ import annotations

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks
from ._windows import rolling_means, rolling_std
from .crosses import crosses
from .params import Param
from .result import Signals

NAME = "bollinger_reversion"
LABEL_KO = "볼린저 밴드 역추세"
LABEL_EN = "Bollinger band mean reversion"
PARAMS = [
    Param("period", int, 20, min=2, max=250, step=1,
          help_ko="중심선(이동평균)과 표준편차 계산 기간", help_en="Bars in the middle band and the standard deviation"),
    Param("width", float, 2.0, min=0.1, max=5.0, step=0.1,
          help_ko="하단 밴드까지의 표준편차 배수", help_en="Standard deviations from the middle to the lower band"),
]


@by_row_blocks
def signals(*, close: np.ndarray, period: int, width: float, open: np.ndarray | None = None,
            high: np.ndarray | None = None, low: np.ndarray | None = None) -> Signals:
    """Entries and exits (symbols x bars) from ``close``; NaN bars never signal."""
    bars, (prices,) = own_bars(close)
    (middle,) = rolling_means(prices, [period])
    lower = middle - width * rolling_std(prices, period)
    _, entries = crosses(prices, lower)
    exits, _ = crosses(prices, middle)
    return Signals(bars.unpack(entries), bars.unpack(exits))
