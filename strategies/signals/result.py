"""What a strategy type returns: entry and exit signals, plus an intraday entry price for some."""

from __future__ import annotations

import numpy as np


class Signals(tuple):
    """``(entries, exits)``: boolean arrays (symbols x bars), with an optional ``entry_price``.

    Unpacks as a 2-tuple (``entries, exits = sig``). A signal at bar t is decided on bar t's close
    and filled by the engine's fill rule (next open by default). ``entries[:, t]`` and
    ``exits[:, t]`` are False wherever bar t is missing (NaN).

    ``entry_price`` is ``None`` for every type except those whose entries fill *during* bar t at a
    known price (``volatility_breakout``): then it is a float64 array of the same shape holding the
    fill price wherever ``entries`` is True and NaN elsewhere, and the engine must fill the entry at
    that price on bar t itself, whatever its fill rule (exits keep the normal rule).
    """

    entry_price: np.ndarray | None

    def __new__(cls, entries: np.ndarray, exits: np.ndarray, entry_price: np.ndarray | None = None) -> Signals:
        self = super().__new__(cls, (entries, exits))
        self.entry_price = entry_price
        return self

    @property
    def entries(self) -> np.ndarray:
        return self[0]

    @property
    def exits(self) -> np.ndarray:
        return self[1]
