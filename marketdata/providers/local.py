"""Bars already in our own Parquet store (``marketdata.store.BarStore``): the first place to look.

Pure module: no Django imports; ``chain.get_provider("local")`` passes ``settings.MARKET_DATA_ROOT``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from .base import PRICE_COLUMNS, DataProvider, ProviderBars, ProviderError


class LocalStoreProvider(DataProvider):
    """Reads one code from the bar store under ``root``; never cached (an import shows at once)."""

    name = "local"
    cacheable = False

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Raises a permanent ``ProviderError`` when the store holds no bars of ``code`` in the range."""
        from marketdata.store import BarStore  # the store module is optional for the other providers

        try:
            found = BarStore(self.root).read_one(code, start, end)
        except ValueError as exc:  # malformed code
            raise ProviderError(f"cannot read {code!r} from the local store: {exc}", permanent=True) from None
        except OSError as exc:
            raise ProviderError(f"cannot read the local store: {type(exc).__name__}", permanent=False) from None
        if not len(found):
            raise ProviderError(f"no bars in the local store for {code} between {start} and {end}", permanent=True)
        # Copies: the store may hand out read-only views of its buffers.
        prices = (np.array(getattr(found, c), dtype=np.float64) for c in PRICE_COLUMNS)
        return ProviderBars(np.array(found.date, dtype="datetime64[D]"), *prices)
