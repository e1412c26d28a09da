"""The ledger's Celery jobs: thin, safe to deliver twice, never scheduled past the visibility timeout."""

from __future__ import annotations

import pytest

from core.audit import Actor
from trading.orders import services, tasks

from .conftest import ORDER_PATH, new_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.orders_reconcile_account, "apply_async",
                        lambda args, countdown=None: calls.append((args, countdown)))
    monkeypatch.setattr(tasks.orders_reconcile_account, "delay", lambda *args: calls.append((args, None)))
    return calls


def test_the_submit_job_sends_once_however_often_it_is_delivered(kis, no_jobs):
    order = new_order(kis.account)
    assert tasks.order_submit.run(order.pk) == "accepted"
    assert tasks.order_submit.run(order.pk) is None
    assert kis.fake.count(ORDER_PATH) == 1


def test_the_relay_sends_orders_and_cancels_a_lost_message_left_waiting(kis, no_jobs, settings):
    waiting = new_order(kis.account)
    accepted = services.order_submit(order_id=new_order(kis.account).pk)
    services.order_cancel_request(actor=Actor.of_user(kis.account.owner), order=accepted)
    assert tasks.orders_relay.run() == {"submit": 0, "cancel": 0, "revise": 0}  # seconds old: their own jobs may come
    settings.ORDER_RELAY_AFTER_SECONDS = 0.001
    assert tasks.orders_relay.run() == {"submit": 1, "cancel": 1, "revise": 0}
    assert (no_jobs["submit"], no_jobs["cancel"]) == ([waiting.pk], [accepted.pk])
    assert tasks.orders_relay.run() == {"submit": 0, "cancel": 0, "revise": 0}  # not again while the queue is busy


def test_an_unknown_order_brings_one_follow_up_reconciliation_within_the_cap(kis, no_jobs, scheduled, settings):
    settings.ORDER_RECONCILE_FOLLOW_UP_SECONDS = 7200  # a setting past the visibility timeout is capped
    kis.fake.fail_next(ORDER_PATH, "reset")
    services.order_submit(order_id=new_order(kis.account).pk)
    tasks.orders_reconcile_account.run(kis.account.pk)
    tasks.orders_reconcile_account.run(kis.account.pk)
    assert scheduled == [((kis.account.pk,), tasks.MAX_COUNTDOWN_SECONDS)]
    assert tasks.MAX_COUNTDOWN_SECONDS < 3600


def test_reconciliation_is_due_for_accounts_with_open_or_unresolved_orders(kis, no_jobs, scheduled, paper_account):
    assert tasks.orders_reconcile_due.run() == 0
    services.order_submit(order_id=new_order(kis.account).pk)
    assert tasks.orders_reconcile_due.run() == 1 and scheduled == [((kis.account.pk,), None)]
