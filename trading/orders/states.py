"""The order's states and the one table of transitions between them (pure: no Django).

    new → submitting → accepted → partially_filled → filled
    accepted / partially_filled → cancel_requested → cancelled (→ filled)
    submitting → unknown → (what the listing shows) or not_placed
    expired (a day order still open after the close), rejected (a definite refusal)

- ``submitting``: claimed by exactly one job (compare-and-set from ``new``) and maybe sent.
- ``unknown``: the request may have reached the broker (a timeout, a reset, a worker that died
  after claiming). Never resent: reconciliation finds it in the day's listing or, only when the
  listing proves it absent over a bounded time, settles it as ``not_placed``.
- ``cancelled`` → ``filled`` and ``expired`` → ``filled`` are allowed, as NautilusTrader allows
  CANCELED → FILLED ("a real world possibility"): a fill that happened before the cancel (or the
  close) can be reported after it. A late *partial* fill is recorded without changing the state.
- ``filled``, ``rejected`` and ``not_placed`` are final.

A fill never moves an order backwards: ``state_after_fill`` and ``state_from_listing`` only name
a target, and ``check_transition`` refuses anything the table does not hold (a stale listing row
that still shows an order open after our cancel was acknowledged is simply not applied).
"""

from __future__ import annotations

import enum
from decimal import Decimal


class State(enum.StrEnum):
    NEW = "new"
    SUBMITTING = "submitting"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    NOT_PLACED = "not_placed"


S = State
TRANSITIONS: dict[State, frozenset[State]] = {
    # a cancel before sending needs no broker; a check at submission time may still refuse
    S.NEW: frozenset({S.SUBMITTING, S.CANCELLED, S.REJECTED}),
    # fills may be reported before the acknowledgement (an execution notice outruns the answer)
    S.SUBMITTING: frozenset({S.ACCEPTED, S.REJECTED, S.UNKNOWN, S.PARTIALLY_FILLED, S.FILLED}),
    # what the listing (or a late answer) proves; not_placed only when the listing proves it absent
    S.UNKNOWN: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED, S.REJECTED,
                          S.NOT_PLACED}),
    # the broker may still refuse after taking the order (KIS rjct_qty)
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCEL_REQUESTED, S.CANCELLED, S.EXPIRED,
                           S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCEL_REQUESTED, S.CANCELLED, S.EXPIRED}),
    # a refused cancel returns the order to what it was; fills go on while the cancel travels
    S.CANCEL_REQUESTED: frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.CANCELLED: frozenset({S.FILLED}),
    S.EXPIRED: frozenset({S.FILLED}),
    S.FILLED: frozenset(),
    S.REJECTED: frozenset(),
    S.NOT_PLACED: frozenset(),
}

FINAL = frozenset(state for state, targets in TRANSITIONS.items() if not targets)
# the order rests (or may rest) at the broker: it can still fill
OPEN = frozenset({S.ACCEPTED, S.PARTIALLY_FILLED, S.CANCEL_REQUESTED})
# the platform does not know yet whether the broker has it
UNRESOLVED = frozenset({S.SUBMITTING, S.UNKNOWN})
# nothing more will happen unless a late fill report arrives
CLOSED = FINAL | {S.CANCELLED, S.EXPIRED}


class IllegalTransition(ValueError):
    """The table holds no ``current`` → ``target``."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"an order cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return State(target) in TRANSITIONS[State(current)]


def check_transition(current: str, target: str) -> None:
    """Raise ``IllegalTransition`` unless the table allows ``current`` → ``target``."""
    if not can_transition(current, target):
        raise IllegalTransition(current, target)


def state_after_fill(current: str, *, filled: Decimal, quantity: Decimal) -> State:
    """The state once ``filled`` of ``quantity`` is filled. A partial fill moves an order that was
    waiting (``submitting``, ``unknown``, ``accepted``) to ``partially_filled`` and leaves one
    being cancelled, cancelled or expired where it is; a complete fill is ``filled``."""
    current = State(current)
    if filled >= quantity:
        return S.FILLED
    if filled > 0 and current in (S.SUBMITTING, S.UNKNOWN, S.ACCEPTED):
        return S.PARTIALLY_FILLED
    return current


def state_from_listing(current: str, *, quantity: Decimal, filled: Decimal, remaining: Decimal,
                       rejected: Decimal = Decimal(0), day_over: bool = False, cancel_asked: bool = False) -> State:
    """What one row of the broker's day listing says the order is (fills already applied).

    Filled in full: ``filled``. Nothing remaining and not all filled: ``rejected`` when the broker
    rejected it without fills; ``expired`` when its day is over and nobody on the platform asked
    for a cancel (the paper broker closes a day's leftovers so); else ``cancelled`` (KIS shows a
    cancelled original with ``rmn_qty`` 0). Still open after its day's session: ``expired``. Open:
    ``partially_filled`` or ``accepted`` (an order being cancelled stays ``cancel_requested`` until
    the listing shows it closed).
    """
    current = State(current)
    if filled >= quantity:
        return S.FILLED
    if remaining <= 0:
        if rejected > 0 and filled <= 0:
            return S.REJECTED
        return S.EXPIRED if day_over and not cancel_asked else S.CANCELLED
    if day_over:
        return S.EXPIRED
    if current == S.CANCEL_REQUESTED:
        return current
    return S.PARTIALLY_FILLED if filled > 0 else S.ACCEPTED
