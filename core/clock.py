"""The platform's one clock for trading time: sessions, token expiry, settlement, the paper broker.

Everything that asks "what time is it for trading?" reads ``now()`` / ``timestamp()`` here, so tests,
browser tests and benchmarks can run a trading day (or a day of token life) in seconds, in this
process and in real worker processes alike:

- in one process, ``travel(to)`` (a context manager) moves the clock;
- across processes, ``CLOCK_FILE`` (environment) names a small JSON file every process reads
  (``{"offset": seconds}`` shifts the real clock, ``{"frozen": epoch}`` stops it); ``travel`` writes
  it when it is set. Re-read when the file changes (its modification time), so it costs one ``stat``.

Production leaves ``CLOCK_FILE`` unset: then this is the real clock.

A replay (``trading.live.replay``) runs a deployment over past days without moving anyone else's
clock: ``scoped(to)`` stops the clock at ``to`` for the current context only (a ``ContextVar``: this
thread or task, and what it calls), and wins over both of the above. ``is_scoped()`` tells code
that must not hand work to other processes (they read the real clock) that it runs in one.
"""

from __future__ import annotations

import json
import os
import threading
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

_local_shift: dict[str, float] = {}
_file_cache: dict[str, tuple[float, dict[str, float]]] = {}
_lock = threading.Lock()
_scoped: ContextVar[float | None] = ContextVar("trading_clock_scoped", default=None)


def _clock_file() -> Path | None:
    name = os.environ.get("CLOCK_FILE", "")
    return Path(name) if name else None


def _file_setting() -> dict[str, float]:
    path = _clock_file()
    if path is None:
        return {}
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    cached = _file_cache.get(str(path))
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        setting = {k: float(v) for k, v in json.loads(path.read_text()).items() if k in ("offset", "frozen")}
    except (OSError, ValueError, TypeError, AttributeError):
        setting = {}
    _file_cache[str(path)] = (mtime, setting)
    return setting


def timestamp() -> float:
    """Epoch seconds of the trading clock."""
    scoped_to = _scoped.get()
    if scoped_to is not None:
        return scoped_to
    setting = _local_shift or _file_setting()
    if "frozen" in setting:
        return setting["frozen"]
    return _time.time() + setting.get("offset", 0.0)


def now() -> datetime:
    """The trading clock as an aware UTC datetime (show it in Asia/Seoul)."""
    return datetime.fromtimestamp(timestamp(), tz=UTC)


def _write(setting: dict[str, float]) -> None:
    path = _clock_file()
    if path is None:
        _local_shift.clear()
        _local_shift.update(setting)
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(setting))
    os.replace(tmp, path)
    # a write within the same mtime tick must still be seen
    _file_cache.pop(str(path), None)


@contextmanager
def travel(to: datetime, *, tick: bool = True) -> Iterator[None]:
    """Move the trading clock to ``to`` (aware) for the block; ``tick=False`` stops it there."""
    with _lock:
        previous = dict(_local_shift) if _clock_file() is None else _file_setting()
        target = to.timestamp()
        _write({"offset": target - _time.time()} if tick else {"frozen": target})
    try:
        yield
    finally:
        with _lock:
            _write(previous)


def set_to(to: datetime, *, tick: bool = True) -> None:
    """Move the trading clock until moved again (management commands, benchmarks)."""
    target = to.timestamp()
    _write({"offset": target - _time.time()} if tick else {"frozen": target})


@contextmanager
def scoped(to: datetime) -> Iterator[None]:
    """Stop the trading clock at ``to`` (aware) for this context only: other threads, tasks and
    processes keep their clock. Nests (the inner one wins until it ends)."""
    token = _scoped.set(to.timestamp())
    try:
        yield
    finally:
        _scoped.reset(token)


def is_scoped() -> bool:
    """True inside ``scoped``: this context's time is not the platform's."""
    return _scoped.get() is not None


def reset() -> None:
    _write({})
