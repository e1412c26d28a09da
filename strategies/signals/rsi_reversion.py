"""RSI mean reversion: buy when Wilder's RSI falls through ``buy_below``, sell when it rises through
``sell_above``.

RSI(period) on each symbol's present closes: changes ``d = close[t] - close[t-1]``, gains ``max(d,0)``
and losses ``max(-d,0)`` smoothed with Wilder's method (the mean of the first ``period`` changes, then
``avg += (x - avg) / period``); ``RSI = 100 * avg_gain / (avg_gain + avg_loss)``, which equals
``100 - 100 / (1 + RS)``, and is 50 when both averages are 0 (a flat stretch). RSI exists from the
``period + 1``-th present bar. Entry at t when RSI crosses below ``buy_below`` (``RSI[t] < buy_below``
and ``RSI[t-1] >= buy_below``), exit when it crosses above ``sell_above`` (strict crosses).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks
from ._windows import RECURSION_COMPILED, previous, wilder
from .crosses import crosses
from .params import Param, must_be_greater
from .result import Signals

NAME = "rsi_reversion"
LABEL_KO = "RSI 역추세"
LABEL_EN = "RSI mean reversion"
PARAMS = [
    Param("period", int, 14, min=2, max=250, step=1,
          help_ko="RSI 계산 기간(봉 수, 와일더 평활)", help_en="RSI period in bars (Wilder's smoothing)"),
    Param("buy_below", float, 30.0, min=1.0, max=99.0, step=1.0,
          help_ko="RSI가 이 값 아래로 내려가면 매수", help_en="Buy when RSI crosses below this level"),
    Param("sell_above", float, 70.0, min=1.0, max=99.0, step=1.0,
          help_ko="RSI가 이 값 위로 올라가면 매도, 매수 기준보다 커야 함",
          help_en="Sell when RSI crosses above this level; greater than buy_below"),
]


def check(params: dict[str, Any]) -> dict[str, list[str]]:
    """``sell_above`` must exceed ``buy_below`` (the message goes on ``sell_above``)."""
    if params["buy_below"] >= params["sell_above"]:
        return {"sell_above": [must_be_greater("buy_below", params["buy_below"])]}
    return {}


def rsi(prices: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI of gap-free ``prices`` (symbols x bars), NaN during the warm-up."""
    change = prices - previous(prices)
    gain = wilder(np.maximum(change, 0.0), period)
    loss = wilder(np.maximum(-change, 0.0), period)
    total = gain + loss
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 100.0 * gain / total
    value[total == 0.0] = 50.0
    return value


@by_row_blocks(when=RECURSION_COMPILED)
def signals(*, close: np.ndarray, period: int, buy_below: float, sell_above: float,
            open: np.ndarray | None = None, high: np.ndarray | None = None,
            low: np.ndarray | None = None) -> Signals:
    """Entries and exits (symbols x bars) from ``close``; NaN bars never signal."""
    bars, (prices,) = own_bars(close)
    value = rsi(prices, period)
    _, entries = crosses(value, buy_below)
    exits, _ = crosses(value, sell_above)
    return Signals(bars.unpack(entries), bars.unpack(exits))
