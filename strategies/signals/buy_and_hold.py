"""Buy and hold, the benchmark: enter on each symbol's first present bar, never exit.

The entry is on the first bar whose close is finite (the symbol's first trading day in the panel),
so with the default next-open fill the position opens on its second bar. A symbol with no bar gets no
entry. Positions stay open to the end, where the engine marks them to the last close.
"""

from __future__ import annotations

import numpy as np

from ._bars import own_bars
from ._blocks import by_row_blocks
from .params import Param
from .result import Signals

NAME = "buy_and_hold"
LABEL_KO = "매수 후 보유"
LABEL_EN = "Buy and hold"
PARAMS: list[Param] = []


@by_row_blocks
def signals(*, close: np.ndarray, open: np.ndarray | None = None, high: np.ndarray | None = None,
            low: np.ndarray | None = None) -> Signals:
    """An entry on each symbol's first present bar; no exits."""
    bars, _ = own_bars(close)
    present = bars.present
    entries = np.zeros(present.shape, dtype=bool)
    listed = np.flatnonzero(present.any(axis=1))
    if listed.size:
        entries[listed, np.argmax(present[listed], axis=1)] = True
    return Signals(entries, np.zeros_like(entries))
