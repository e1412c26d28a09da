"""Submission against the fake KIS: every intent reaches the broker at most once, whatever the
answer, the delivery or the worker does. Each test reads the fake's own journal of orders."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from core.models import AuditEntry
from trading.fakes.server import Answer
from trading.orders import reconcile, services
from trading.orders.models import Order, OrderEvent

from .conftest import ACCOUNT_DIGITS, KEY, ORDER_PATH, SECRET, later, new_order

pytestmark = pytest.mark.django_db

RATE_LIMITED = Answer(500, {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."})


def sent_orders(fake) -> int:
    return fake.count(ORDER_PATH)


def test_an_order_is_written_before_anything_is_sent_and_its_job_goes_out_on_commit(
        kis, monkeypatch, django_capture_on_commit_callbacks):
    from trading.orders import tasks

    delivered = []
    monkeypatch.setattr(tasks.order_submit, "delay", delivered.append)
    with django_capture_on_commit_callbacks(execute=True):
        order = new_order(kis.account)
    assert order.state == "new" and sent_orders(kis.fake) == 0
    assert delivered == [order.pk]
    assert list(order.events.values_list("from_state", "to_state")) == [("", "new")]
    assert AuditEntry.objects.filter(action="order.create", object_id=str(order.pk), owner=kis.account.owner).exists()


def test_the_same_intent_makes_one_order(kis, no_jobs):
    first = new_order(kis.account, intent_id="0b0e6f1a-3a1c-4e8e-9d52-7f4b8f0c2a11")
    again = new_order(kis.account, intent_id="0b0e6f1a-3a1c-4e8e-9d52-7f4b8f0c2a11")
    assert again.pk == first.pk and Order.objects.count() == 1


def test_an_acknowledged_order_is_accepted_with_the_brokers_numbers(kis, no_jobs):
    order = services.order_submit(order_id=new_order(kis.account).pk)
    [placed] = kis.fake.placed()
    assert (order.state, order.broker_order_no, order.broker_org_no) == ("accepted", placed.odno, placed.org)
    assert list(order.events.values_list("to_state", flat=True)) == ["new", "submitting", "accepted"]
    actions = set(AuditEntry.objects.filter(object_id=str(order.pk)).values_list("action", flat=True))
    assert {"order.create", "order.submitting", "order.accepted"} <= actions


def test_the_same_job_delivered_twice_sends_once(kis, no_jobs):
    order = new_order(kis.account)
    assert services.order_submit(order_id=order.pk).state == "accepted"
    assert services.order_submit(order_id=order.pk) is None
    assert sent_orders(kis.fake) == 1 and len(kis.fake.placed()) == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_with_the_same_job_at_once_send_once(kis, no_jobs):
    order = new_order(kis.account)
    start = threading.Barrier(4)
    outcomes = []

    def worker() -> None:
        try:
            start.wait()
            result = services.order_submit(order_id=order.pk)
            outcomes.append(None if result is None else result.state)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(map(str, outcomes)) == ["None", "None", "None", "accepted"]
    assert sent_orders(kis.fake) == 1 and len(kis.fake.placed()) == 1


def test_rate_limit_refusals_are_retried_and_still_one_order_reaches_the_broker(kis, no_jobs):
    kis.fake.fail_next(ORDER_PATH, RATE_LIMITED, times=5)  # the client retries 3 times, the job again
    order = services.order_submit(order_id=new_order(kis.account).pk)
    assert order.state == "accepted"
    assert sent_orders(kis.fake) == 6 and len(kis.fake.placed()) == 1


def test_a_rate_limit_that_never_ends_rejects_with_the_message_and_places_nothing(kis, no_jobs):
    kis.fake.fail_next(ORDER_PATH, RATE_LIMITED, times=50)
    order = services.order_submit(order_id=new_order(kis.account).pk)
    assert (order.state, order.reject_code) == ("rejected", "EGW00201")
    assert order.reject_reason == "초당 거래건수를 초과하였습니다."
    assert kis.fake.placed() == []


def test_a_definite_refusal_is_rejected_with_the_brokers_message(kis, no_jobs):
    kis.fake.market_open = False
    order = services.order_submit(order_id=new_order(kis.account).pk)
    assert (order.state, order.reject_code, order.reject_reason) == ("rejected", "APBK0919", "장운영시간이 아닙니다.")
    assert kis.fake.placed() == []


@pytest.mark.parametrize("fault", ["timeout", "reset"])
def test_an_answer_lost_after_acceptance_is_unknown_never_resent_and_found_by_reconciliation(
        kis, no_jobs, fault, django_capture_on_commit_callbacks):
    if fault == "timeout":
        kis.fake.lose_answer_next(ORDER_PATH)
    else:
        kis.fake.reset_after_next(ORDER_PATH)
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_submit(order_id=new_order(kis.account).pk)
    assert order.state == "unknown" and no_jobs["reconcile"] == [kis.account.pk]
    [placed] = kis.fake.placed()  # the broker has it
    assert services.order_submit(order_id=order.pk) is None
    assert services.orders_waiting(older_than_seconds=0)["submit"] == []
    summary = reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert (summary.found, order.state, order.broker_order_no) == (1, "accepted", placed.odno)
    assert sent_orders(kis.fake) == 1 and len(kis.fake.placed()) == 1
    assert reconcile.account_reconcile(account=kis.account).found == 0  # settled once


def test_a_request_reset_before_the_broker_saw_it_is_not_placed_only_after_the_bound(kis, no_jobs, settings):
    settings.ORDER_NOT_PLACED_MISSES, settings.ORDER_NOT_PLACED_AFTER_SECONDS = 3, 20
    kis.fake.fail_next(ORDER_PATH, "reset")
    order = services.order_submit(order_id=new_order(kis.account).pk)
    assert order.state == "unknown" and kis.fake.placed() == []
    for _ in range(4):  # absent from four listings within seconds: the listing may still lag
        reconcile.account_reconcile(account=kis.account)
        later(3)
    order.refresh_from_db()
    assert (order.state, order.missed_lookups) == ("unknown", 4)
    later(10)
    assert reconcile.account_reconcile(account=kis.account).not_placed == 1
    order.refresh_from_db()
    assert order.state == "not_placed" and kis.fake.placed() == []


def test_a_worker_that_died_after_sending_leaves_an_order_reconciliation_finds(kis, no_jobs):
    from trading import connections

    order = services.order_claim(order_id=new_order(kis.account).pk)
    connections.broker_client(kis.account).place_order(services._request(order))  # then the worker died
    reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert order.state == "submitting"  # the lease still runs: its answer may yet be recorded
    later(31)
    summary = reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert (summary.found, summary.external, order.state) == (1, 0, "accepted")
    assert list(order.events.values_list("to_state", flat=True)) == ["new", "submitting", "unknown", "unknown",
                                                                      "accepted"]
    assert len(kis.fake.placed()) == 1


def test_a_worker_that_died_before_sending_leaves_an_order_settled_as_not_placed(kis, no_jobs, settings):
    settings.ORDER_NOT_PLACED_AFTER_SECONDS = 20
    order = services.order_claim(order_id=new_order(kis.account).pk)
    later(31)  # the lease is over: unknown, then absent from listings over 24 s
    for _ in range(4):
        reconcile.account_reconcile(account=kis.account)
        later(8)
    order.refresh_from_db()
    assert order.state == "not_placed" and kis.fake.placed() == []


def test_a_job_whose_lease_is_nearly_over_sends_nothing(kis, no_jobs):
    order = services.order_claim(order_id=new_order(kis.account).pk)
    later(26)  # 4 s left; one request may take 0.5 s + 3 s + the margin
    assert services.order_send(order=order).state == "submitting"
    assert sent_orders(kis.fake) == 0


def test_no_log_line_or_event_of_a_troubled_order_holds_a_secret(kis, no_jobs, caplog,
                                                                 django_capture_on_commit_callbacks):
    caplog.set_level("DEBUG")
    kis.fake.lose_answer_next(ORDER_PATH)
    with django_capture_on_commit_callbacks(execute=True):
        order = services.order_submit(order_id=new_order(kis.account).pk)
        reconcile.account_reconcile(account=kis.account)
    texts = [caplog.text, *OrderEvent.objects.values_list("why", flat=True),
             *(str(a.after) + a.reason for a in AuditEntry.objects.all())]
    for secret in (KEY, SECRET, ACCOUNT_DIGITS, ACCOUNT_DIGITS[:8]):
        assert not any(secret in text for text in texts)
    assert order.state == "unknown"


def test_an_order_without_a_price_or_quantity_is_refused_before_it_is_written(kis, no_jobs):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        new_order(kis.account, quantity=0)
    assert error.value.field == "quantity"
    with pytest.raises(ApplicationError) as error:
        services.order_create(actor=services.SUBMITTER, account=kis.account, symbol="005930", side="buy",
                              quantity=Decimal(1), order_type="limit", price=None)
    assert error.value.field == "price" and Order.objects.count() == 0


def test_a_send_check_refusing_a_queued_order_rejects_it_unsent(kis, no_jobs, monkeypatch):
    from trading.brokers.base import Refused

    def switched_off(order):
        raise Refused("trading is stopped for this account", code="kill_switch")

    monkeypatch.setattr(services, "_send_checks", [])
    services.send_check_add(switched_off)
    order = services.order_submit(order_id=new_order(kis.account).pk)
    assert (order.state, order.reject_code) == ("rejected", "kill_switch") and sent_orders(kis.fake) == 0


def test_an_order_cannot_be_created_as_external(kis, no_jobs):
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError) as error:
        new_order(kis.account, source="external")
    assert error.value.field == "source" and Order.objects.count() == 0
