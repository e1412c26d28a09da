"""Reads of the ledger: scoped to the owner, one query per list, the timeline in order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import NotFound
from trading.orders import selectors, services
from trading.orders.fills import FillReport

from .conftest import new_order

pytestmark = pytest.mark.django_db


def test_another_users_order_is_not_found(kis, no_jobs, other_user):
    order = new_order(kis.account)
    assert selectors.order_get(user=kis.account.owner, pk=order.pk) == order
    with pytest.raises(NotFound):
        selectors.order_get(user=other_user, pk=order.pk)
    assert list(selectors.order_list(user=other_user)) == []
    assert list(selectors.position_list(user=other_user, held_only=False)) == []


def test_lists_take_one_query_whatever_their_length(kis, no_jobs, django_assert_num_queries):
    for _ in range(5):
        new_order(kis.account)
    with django_assert_num_queries(1):
        assert {o.account.nickname for o in selectors.order_list(user=kis.account.owner, states=["new"])} == {
            "KIS 모의"}


def test_the_timeline_holds_every_transition_and_fill_in_order(kis, no_jobs):
    order = services.order_submit(order_id=new_order(kis.account, quantity=2).pk)
    services.order_fill_record(order_id=order.pk, report=FillReport(order.broker_order_no, Decimal(2),
                                                                    price=Decimal(70_000)))
    entries = selectors.order_timeline(order=order)
    assert [e.kind for e in entries] == ["event", "event", "event", "fill", "event"]
    assert [e.event.to_state for e in entries if e.event] == ["new", "submitting", "accepted", "filled"]
    assert [f.fill.quantity for f in entries if f.fill] == [2]
    assert list(selectors.fill_list(user=kis.account.owner)) == [entries[3].fill]
