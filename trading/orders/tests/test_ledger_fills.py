"""Fills booked into orders and positions: duplicate, replayed, out-of-order, over-reported and
early (before the acknowledgement) reports each count once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.brokers.base import OrderAck
from trading.orders import services
from trading.orders.fills import FillReport
from trading.orders.models import Fill, Position

from .conftest import new_order

pytestmark = pytest.mark.django_db
D = Decimal


def book(order, cumulative, **kwargs):
    report = FillReport(order.broker_order_no or "0000000042", D(cumulative), **kwargs)
    return services.order_fill_record(order_id=order.pk, report=report)


def test_duplicate_replayed_out_of_order_and_excess_reports_count_each_share_once(kis, no_jobs):
    order = services.order_submit(order_id=new_order(kis.account, quantity=10).pk)
    assert book(order, 3, price=D(70_000)) is not None
    assert book(order, 3, price=D(70_000)) is None  # duplicate
    assert book(order, 6, cumulative_amount=D(420_600)) is not None  # 3 more at 70,200
    assert book(order, 2, price=D(69_000)) is None  # an older report, late
    assert book(order, 3, price=D(70_000)) is None  # a replay
    assert book(order, 12, price=D(70_100)) is not None  # claims 12 of 10: 4 counted
    assert book(order, 12, price=D(70_100)) is None
    order.refresh_from_db()
    fills = list(Fill.objects.order_by("id").values_list("quantity", "price"))
    assert fills == [(D(3), D(70_000)), (D(3), D(70_200)), (D(4), D(70_100))]
    assert (order.state, order.filled_quantity, order.cancelled_quantity) == ("filled", 10, 0)
    assert order.flag and Position.objects.get(symbol="005930").quantity == 10


def test_a_fill_before_the_acknowledgement_is_counted_once_and_the_late_answer_only_adds_the_number(kis, no_jobs):
    order = services.order_claim(order_id=new_order(kis.account, quantity=5).pk)
    report = FillReport("0000000042", D(5), price=D(70_000))
    services.order_fill_record(order_id=order.pk, report=report)
    order.refresh_from_db()
    assert (order.state, order.filled_quantity, order.broker_order_no) == ("filled", 5, "0000000042")
    order = services.order_record_ack(order_id=order.pk, ack=OrderAck(order_no="0000000042", org_no="00950"))
    assert (order.state, order.broker_org_no) == ("filled", "00950") and order.acknowledged_at
    assert services.order_fill_record(order_id=order.pk, report=report) is None
    assert Fill.objects.count() == 1 and Position.objects.get(symbol="005930").quantity == 5
    assert list(order.events.values_list("to_state", flat=True)) == ["new", "submitting", "filled", "filled"]


def test_a_partial_fill_before_the_acknowledgement_leaves_it_partially_filled(kis, no_jobs):
    order = services.order_claim(order_id=new_order(kis.account, quantity=5).pk)
    services.order_fill_record(order_id=order.pk, report=FillReport("0000000042", D(2), price=D(70_000)))
    order = services.order_record_ack(order_id=order.pk, ack=OrderAck(order_no="0000000042"))
    assert (order.state, order.filled_quantity) == ("partially_filled", 2)
