"""The transition table: what it allows, and that it refuses everything else."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from trading.orders.models import OrderState
from trading.orders.states import (
    FINAL,
    TRANSITIONS,
    IllegalTransition,
    State,
    check_transition,
    state_after_fill,
    state_from_listing,
)

D = Decimal
ALLOWED = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}


def test_the_models_choices_are_the_states():
    assert {choice.value for choice in OrderState} == {state.value for state in State}


@pytest.mark.parametrize("current", list(State))
@pytest.mark.parametrize("target", list(State))
def test_every_pair_outside_the_table_is_refused(current, target):
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_the_issues_paths_are_allowed():
    for path in (["new", "submitting", "accepted", "partially_filled", "filled"],
                 ["accepted", "cancel_requested", "cancelled", "filled"],
                 ["submitting", "unknown", "not_placed"], ["submitting", "unknown", "accepted"],
                 ["accepted", "expired"], ["submitting", "rejected"]):
        for current, target in itertools.pairwise(path):
            check_transition(current, target)


def test_an_unknown_order_is_never_sent_again_and_final_states_stay_final():
    for target in ("new", "submitting"):
        with pytest.raises(IllegalTransition):
            check_transition("unknown", target)
    assert FINAL == {State.FILLED, State.REJECTED, State.NOT_PLACED}
    with pytest.raises(IllegalTransition, match="not_placed to accepted"):
        check_transition("not_placed", "accepted")


def test_a_fill_moves_a_waiting_order_forward_and_never_backwards():
    assert state_after_fill("submitting", filled=D(3), quantity=D(10)) == State.PARTIALLY_FILLED
    assert state_after_fill("unknown", filled=D(10), quantity=D(10)) == State.FILLED
    assert state_after_fill("cancel_requested", filled=D(3), quantity=D(10)) == State.CANCEL_REQUESTED
    assert state_after_fill("cancelled", filled=D(3), quantity=D(10)) == State.CANCELLED
    assert state_after_fill("cancelled", filled=D(10), quantity=D(10)) == State.FILLED


def test_a_listing_row_names_the_state_it_shows():
    def listed(current="accepted", filled=0, remaining=10, **kw):
        return state_from_listing(current, quantity=D(10), filled=D(filled), remaining=D(remaining), **kw)

    assert listed() == State.ACCEPTED
    assert listed(filled=4, remaining=6) == State.PARTIALLY_FILLED
    assert listed(filled=10, remaining=0) == State.FILLED
    assert listed(filled=4, remaining=0) == State.CANCELLED
    assert listed(filled=4, remaining=0, day_over=True) == State.EXPIRED
    assert listed(filled=4, remaining=0, day_over=True, cancel_asked=True) == State.CANCELLED
    assert listed(remaining=6, day_over=True) == State.EXPIRED
    assert listed(remaining=0, rejected=D(10)) == State.REJECTED
    assert listed(current="cancel_requested") == State.CANCEL_REQUESTED
