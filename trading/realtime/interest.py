"""Which symbols browsers watch, across every web process: what the upstream feeds subscribe to.

A 1,000 viewers of one symbol must cost one upstream subscription, so interest is counted per
process, not per socket: each web process keeps a local count of its viewers per symbol
(:func:`viewer_joined`, :func:`viewer_left`) and only the first and the last of them reach the
shared cache, with one key per symbol. On the Django cache: Redis in the full stack (every web
process and the feed process see the same keys), locmem in embedded mode (one process).

Keys (``realtime:interest:`` prefix):

* ``at:<symbol>``: when a process last touched the symbol (TTL :data:`INTEREST_SECONDS`). A process
  with viewers touches it every :data:`TOUCH_EVERY_SECONDS` (:func:`touch_local`), so a process
  that dies without saying goodbye stops counting a minute later at most.
* ``count:<symbol>``: how many processes have viewers of it, so the last viewer anywhere drops the
  symbol at once (:func:`interest_drop`). A count that drifted (a process killed with its viewers,
  a key evicted) errs towards keeping a symbol until its ``at`` key expires, and the next touch
  after an idle spell starts it afresh.
* ``seq``, ``slot:<n>``, ``slotof:<symbol>``: the registry of symbols ever watched (bounded by the
  instruments), so :func:`interest_symbols` needs no key scan; every write is atomic (``add``,
  ``incr``), so processes registering at the same moment never lose one another's symbol.
"""

from __future__ import annotations

import threading
import time

from django.core.cache import cache

# A symbol nobody touched for this long is no longer watched.
INTEREST_SECONDS = 60
# How often a process with viewers of a symbol touches it (a third of the above: two touches may fail).
TOUCH_EVERY_SECONDS = 20

PREFIX = "realtime:interest:"
SEQ_KEY = PREFIX + "seq"


def _now() -> float:
    return time.time()


def _at_key(symbol: str) -> str:
    return f"{PREFIX}at:{symbol}"


def _count_key(symbol: str) -> str:
    return f"{PREFIX}count:{symbol}"


def _slot_key(slot: int) -> str:
    return f"{PREFIX}slot:{slot}"


def _slot_of_key(symbol: str) -> str:
    return f"{PREFIX}slotof:{symbol}"


# -- shared: the cache -------------------------------------------------------------------------
def _register(symbol: str) -> None:
    """Give ``symbol`` a slot in the registry unless it has one that still names it."""
    slot = cache.get(_slot_of_key(symbol))
    if slot is not None and cache.get(_slot_key(slot)) == symbol:
        return
    cache.add(SEQ_KEY, 0, timeout=None)
    slot = cache.incr(SEQ_KEY)
    cache.set(_slot_key(slot), symbol, timeout=None)
    cache.set(_slot_of_key(symbol), slot, timeout=None)


def interest_touch(symbol: str) -> None:
    """Someone on this process watches ``symbol``: keep it in :func:`interest_symbols` for
    :data:`INTEREST_SECONDS` more."""
    cache.set(_at_key(symbol), _now(), timeout=INTEREST_SECONDS)
    _register(symbol)


def interest_join(symbol: str) -> None:
    """The first viewer of ``symbol`` on this process arrived: touch it and count this process."""
    fresh = cache.add(_at_key(symbol), _now(), timeout=INTEREST_SECONDS)
    if fresh:
        # Nobody touched it for a minute: no process has viewers, whatever an old count says.
        cache.set(_count_key(symbol), 1, timeout=None)
    else:
        cache.set(_at_key(symbol), _now(), timeout=INTEREST_SECONDS)
        try:
            cache.incr(_count_key(symbol))
        except ValueError:  # the count was evicted
            cache.add(_count_key(symbol), 1, timeout=None)
    _register(symbol)


def interest_drop(symbol: str) -> None:
    """The last viewer of ``symbol`` on this process left: uncount this process, and forget the
    symbol at once when no other process has viewers of it."""
    try:
        remaining = cache.decr(_count_key(symbol))
    except ValueError:
        remaining = 0
    if remaining <= 0:
        cache.delete(_at_key(symbol))


def interest_symbols() -> list[str]:
    """The symbols some browser watches (touched within :data:`INTEREST_SECONDS`), most recently
    touched first."""
    last = cache.get(SEQ_KEY) or 0
    if not last:
        return []
    slots = cache.get_many([_slot_key(slot) for slot in range(1, last + 1)])
    symbols = sorted(set(slots.values()))
    touched = cache.get_many([_at_key(symbol) for symbol in symbols])
    at = {symbol: touched[_at_key(symbol)] for symbol in symbols if _at_key(symbol) in touched}
    return sorted(at, key=lambda symbol: (-at[symbol], symbol))


# -- local: this process's viewers -------------------------------------------------------------
_viewers: dict[str, int] = {}
_viewers_lock = threading.Lock()


def viewer_joined(symbol: str) -> None:
    """A socket of this process now shows ``symbol``; the first one counts the process in."""
    with _viewers_lock:
        count = _viewers.get(symbol, 0)
        _viewers[symbol] = count + 1
    if count == 0:
        interest_join(symbol)


def viewer_left(symbol: str) -> None:
    """A socket of this process no longer shows ``symbol``; the last one counts the process out."""
    with _viewers_lock:
        count = _viewers.get(symbol, 0)
        if count <= 1:
            _viewers.pop(symbol, None)
        else:
            _viewers[symbol] = count - 1
    if count == 1:
        interest_drop(symbol)


def local_symbols() -> list[str]:
    """The symbols this process has viewers of."""
    with _viewers_lock:
        return sorted(_viewers)


def touch_local() -> None:
    """Touch every symbol this process has viewers of (every :data:`TOUCH_EVERY_SECONDS`)."""
    for symbol in local_symbols():
        interest_touch(symbol)


def reset_local() -> None:
    """Forget this process's viewers (tests)."""
    with _viewers_lock:
        _viewers.clear()
