"""Donchian channel breakout (turtle style): buy a new high, sell a new low.

Entry at bar t when ``close[t]`` is strictly above the highest high of the previous ``entry_period``
bars (t-entry_period .. t-1, bar t excluded); exit when ``close[t]`` is strictly below the lowest low
of the previous ``exit_period`` bars. These are levels, not crosses: the entry stays True on every bar
that makes a new closing high, and the engine ignores an entry while long. A bar is present when its
high, low and close are all finite; the windows count present bars only (see ``_bars``), so the
first possible entry is on the ``entry_period + 1``-th present bar.
"""

from __future__ import annotations

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks
from ._windows import previous, rolling_max, rolling_min
from .params import Param
from .result import Signals

NAME = "donchian_breakout"
LABEL_KO = "돈치안 채널 돌파"
LABEL_EN = "Donchian channel breakout"
PARAMS = [
    Param("entry_period", int, 20, min=1, max=250, step=1,
          help_ko="종가가 직전 N봉 최고가를 넘으면 매수", help_en="Buy when the close beats the highest high of this many previous bars"),
    Param("exit_period", int, 10, min=1, max=250, step=1,
          help_ko="종가가 직전 N봉 최저가를 밑돌면 매도", help_en="Sell when the close falls below the lowest low of this many previous bars"),
]


@by_row_blocks
def signals(*, high: np.ndarray, low: np.ndarray, close: np.ndarray, entry_period: int, exit_period: int,
            open: np.ndarray | None = None) -> Signals:
    """Entries and exits (symbols x bars) from ``high``, ``low`` and ``close``; NaN bars never signal."""
    bars, (highs, lows, closes) = own_bars(high, low, close)
    ceiling = previous(rolling_max(highs, entry_period))
    floor = previous(rolling_min(lows, exit_period))
    return Signals(bars.unpack(closes > ceiling), bars.unpack(closes < floor))
