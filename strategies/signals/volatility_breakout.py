"""Volatility breakout (Larry Williams): buy intraday when the price clears open + k x yesterday's
range, sell at the next open.

On bar t the breakout price is ``open[t] + k * (high[t-1] - low[t-1])``, where t-1 is the symbol's
previous present bar. The entry happens on bar t itself when ``high[t]`` is strictly above that price
(a bar whose high only touches it does not count), filled at ``max(open[t], breakout price)`` (the
open only if bad data made the price fall below it; no tick-size rounding here).

How the engine must read the result (it differs from every other type):
- ``entries[:, t]`` True means *bought during bar t* at ``entry_price[:, t]``; ``Signals.entry_price``
  is a float64 array, NaN wherever ``entries`` is False. The engine fills these entries on bar t
  at that price, not at the next open, whatever its fill rule.
- ``exits`` equals ``entries``: the exit is decided on bar t's close like any other exit and, under
  the default ``fill="next_open"``, sells at bar t+1's open, as Larry Williams prescribes (under
  ``fill="close"`` it would be a same-day round trip at bar t's close).
- An entry on the symbol's last bar has no next open to exit at; the engine's end-of-data rule applies.
A bar is present when its open, high and low are all finite (see ``_bars``); the first present bar of
a symbol has no previous range and never enters.
"""

from __future__ import annotations

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks
from ._windows import previous
from .params import Param
from .result import Signals

NAME = "volatility_breakout"
LABEL_KO = "변동성 돌파"
LABEL_EN = "Volatility breakout (Larry Williams)"
PARAMS = [
    Param("k", float, 0.5, min=0.05, max=2.0, step=0.05,
          help_ko="전일 변동폭(고가-저가)에 곱하는 계수: 시가 + k x 전일 변동폭 돌파 시 매수, 다음 날 시가에 매도",
          help_en="Multiple of the previous day's range (high - low): buy above open + k x range, sell at the next open"),
]


@by_row_blocks
def signals(*, open: np.ndarray, high: np.ndarray, low: np.ndarray, k: float,
            close: np.ndarray | None = None) -> Signals:
    """Entries with their intraday ``entry_price`` and next-open exits (symbols x bars)."""
    bars, (opens, highs, lows) = own_bars(open, high, low)
    breakout = opens + k * previous(highs - lows)
    entered = highs > breakout
    price = np.where(entered, np.maximum(opens, breakout), np.nan)
    entries = bars.unpack(entered)
    return Signals(entries, entries.copy(), entry_price=bars.unpack(price))
