"""Run a strategy over blocks of symbols, in parallel threads.

Every strategy type treats each symbol (row) on its own, so the rows can be cut into blocks and the
blocks computed independently, with identical results. Blocks of a few hundred thousand cells keep
each step's arrays in the CPU cache instead of streaming the whole panel through memory once per
numpy call, and numpy releases the GIL inside its loops, so the blocks share the available cores.
The thread pool is created on first use in each process (so forking workers before that is safe).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .result import Signals

PRICE_FIELDS = ("open", "high", "low", "close")
# Cells (symbols x bars) per block: ~2.5 MB per float64 array, a handful of which are alive at once.
BLOCK_CELLS = 320_000
# Compiled row kernels (``in_row_chunks``): below this many cells one call in the calling thread is
# cheaper than handing chunks to the pool; above it, a few chunks per worker balance the load.
PARALLEL_MIN_CELLS = 200_000
CHUNKS_PER_WORKER = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="signals")
        return _pool


def in_row_chunks(work: Callable[[int, int], None], n_rows: int, n_bars: int) -> None:
    """Call ``work(start, stop)`` over chunks of rows covering ``0:n_rows``, in the pool's threads.

    For compiled kernels that release the GIL (``nogil``) and write their own rows of preallocated
    outputs: every row is computed the same way whatever the chunking, so the result does not depend
    on it. A small input (or a single CPU) runs as one call in the calling thread.
    """
    workers = _workers()
    if n_rows * n_bars < PARALLEL_MIN_CELLS or workers == 1 or n_rows < 2:
        work(0, n_rows)
        return
    least = PARALLEL_MIN_CELLS // (CHUNKS_PER_WORKER * max(n_bars, 1))  # no chunk too small to pay its hand-off
    rows = max(1, least, -(-n_rows // (workers * CHUNKS_PER_WORKER)))
    list(_executor().map(lambda start: work(start, min(start + rows, n_rows)), range(0, n_rows, rows)))


def by_row_blocks(signals: Callable[..., Signals] | None = None, *, when: bool = True):  # noqa: ANN201
    """Wrap a strategy's ``signals(**prices, **params)`` to run over row blocks in threads.

    Use bare (``@by_row_blocks``) or with ``when=False`` to leave the function as it is (types whose
    steps are Python loops over bars gain nothing from blocks). Small inputs (one block) call
    ``signals`` directly. Shapes are checked by ``signals`` itself.
    """
    if signals is None:
        return lambda fn: by_row_blocks(fn) if when else fn

    @functools.wraps(signals)
    def run(**kwargs: object) -> Signals:
        prices = {name: np.asarray(kwargs[name], dtype=np.float64)
                  for name in PRICE_FIELDS if kwargs.get(name) is not None}
        shape = next(iter(prices.values())).shape if prices else ()
        if len(shape) != 2 or any(p.shape != shape for p in prices.values()):
            return signals(**kwargs)
        n_rows, n_bars = shape
        rows = max(1, BLOCK_CELLS // max(n_bars, 1))
        if n_rows <= rows:
            return signals(**kwargs)
        entries = np.empty(shape, dtype=bool)
        exits = np.empty(shape, dtype=bool)
        entry_price: list[np.ndarray] = []  # created by the first block that returns one

        def block(start: int) -> None:
            stop = min(start + rows, n_rows)
            part = signals(**{**kwargs, **{name: p[start:stop] for name, p in prices.items()}})
            entries[start:stop] = part[0]
            exits[start:stop] = part[1]
            if part.entry_price is not None:
                with _pool_lock:
                    if not entry_price:
                        entry_price.append(np.full(shape, np.nan))
                entry_price[0][start:stop] = part.entry_price

        list(_executor().map(block, range(0, n_rows, rows)))
        return Signals(entries, exits, entry_price[0] if entry_price else None)

    return run
