"""Cancels on the same discipline as orders: claimed once, never before the order is resolved, and
ending in the true final state when a fill races them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.audit import Actor
from core.errors import ApplicationError
from trading.orders import reconcile, services
from trading.orders.fills import FillReport
from trading.orders.models import Order

from .conftest import CANCEL_PATH, ORDER_PATH, new_order

pytestmark = pytest.mark.django_db
D = Decimal


def cancel(order):
    return services.order_cancel_request(actor=Actor.of_user(order.owner), order=order)


def test_a_new_order_is_cancelled_without_the_broker_and_never_sent(kis, no_jobs):
    order = cancel(new_order(kis.account))
    assert order.state == "cancelled"
    assert services.order_submit(order_id=order.pk) is None and kis.fake.count(ORDER_PATH) == 0


def test_an_accepted_order_is_cancelled_once(kis, no_jobs, django_capture_on_commit_callbacks):
    order = services.order_submit(order_id=new_order(kis.account).pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert cancel(order).state == "cancel_requested"
    assert no_jobs["cancel"] == [order.pk]
    assert cancel(order).state == "cancel_requested"  # asking twice changes nothing
    order = services.order_cancel_send(order_id=order.pk)
    assert (order.state, order.cancelled_quantity) == ("cancelled", 3)
    assert services.order_cancel_send(order_id=order.pk) is None and kis.fake.count(CANCEL_PATH) == 1
    [placed] = kis.fake.placed()
    assert placed.remaining == 0
    reconcile.account_reconcile(account=kis.account)  # the cancel's own row is no order of its own
    order.refresh_from_db()
    assert order.state == "cancelled" and Order.objects.count() == 1


def test_a_cancel_of_an_unknown_order_waits_for_its_resolution(kis, no_jobs, django_capture_on_commit_callbacks):
    kis.fake.lose_answer_next(ORDER_PATH)
    order = services.order_submit(order_id=new_order(kis.account).pk)
    order = cancel(order)
    assert order.state == "unknown" and order.cancel_requested_at and no_jobs["cancel"] == []
    assert kis.fake.count(CANCEL_PATH) == 0
    with django_capture_on_commit_callbacks(execute=True):
        reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert order.state == "cancel_requested" and no_jobs["cancel"] == [order.pk]
    assert services.order_cancel_send(order_id=order.pk).state == "cancelled"
    assert kis.fake.count(ORDER_PATH) == 1 and kis.fake.count(CANCEL_PATH) == 1


def test_a_cancel_that_loses_the_race_to_a_fill_ends_filled(kis, no_jobs):
    order = services.order_submit(order_id=new_order(kis.account).pk)
    kis.fake.fill(order.broker_order_no, 3, 70_000)
    cancel(order)
    order = services.order_cancel_send(order_id=order.pk)  # the broker: nothing left to cancel
    assert order.state == "accepted" and order.events.filter(code="FAKE0004").exists()
    reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert (order.state, order.filled_quantity, order.cancelled_quantity) == ("filled", 3, 0)


def test_a_fill_reported_after_the_cancel_is_counted_and_a_complete_one_makes_it_filled(kis, no_jobs):
    order = services.order_submit(order_id=new_order(kis.account, quantity=10).pk)
    cancel(order)
    order = services.order_cancel_send(order_id=order.pk)
    assert order.state == "cancelled"
    report = FillReport(order.broker_order_no, D(4), price=D(70_000))
    services.order_fill_record(order_id=order.pk, report=report)
    order.refresh_from_db()
    assert (order.state, order.filled_quantity, order.cancelled_quantity) == ("cancelled", 4, 6)
    services.order_fill_record(order_id=order.pk, report=FillReport(order.broker_order_no, D(10), price=D(70_000)))
    order.refresh_from_db()
    assert (order.state, order.filled_quantity, order.cancelled_quantity) == ("filled", 10, 0)


def test_a_final_order_cannot_be_cancelled(kis, no_jobs):
    kis.fake.market_open = False
    order = services.order_submit(order_id=new_order(kis.account).pk)
    with pytest.raises(ApplicationError) as error:
        cancel(order)
    assert error.value.message == str(services.MESSAGE_FINAL)


def test_a_cancel_that_waits_for_an_unknown_order_is_audited_with_who_asked(kis, no_jobs):
    from core.models import AuditEntry

    kis.fake.lose_answer_next(ORDER_PATH)
    order = cancel(services.order_submit(order_id=new_order(kis.account).pk))
    entry = AuditEntry.objects.get(action="order.cancel_request")
    assert (entry.actor_id, entry.before["state"]) == (order.owner_id, "unknown")
