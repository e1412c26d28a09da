"""Fault injection: the fifteen scenarios of ``docs/order-reliability.md`` against our fake KIS.

Each test reads the fake broker's own journal (``FakeKis.orders``: what KIS would list): exactly one
broker order per intent that reached it, none for one settled "not placed", fills counted once,
positions equal to the broker's. The scenarios and the tests that hold them:

== ============================================ ===============================================================
 #  scenario                                      tests (trading/orders/tests/ unless a path is given)
== ============================================ ===============================================================
 1  the broker accepts, the answer is lost        test_submit.py::test_an_answer_lost_after_acceptance_is_unknown_
    (timeout, reset)                              never_resent_and_found_by_reconciliation[timeout, reset];
                                                  test_worker_processes.py::test_a_worker_killed_after_sending_
                                                  before_saving_the_answer_leaves_the_order_found (4 intents)
 2  the worker dies after the commit, before      test_worker_processes.py::test_a_worker_killed_after_claiming_
    sending (SIGKILL, a real process)             before_sending_leaves_the_order_not_placed;
                                                  test_submit.py::test_a_worker_that_died_before_sending_leaves_an_
                                                  order_settled_as_not_placed (in process, both backends)
 3  the worker dies after sending, before the     test_worker_processes.py::test_a_worker_killed_after_sending_
    order number is saved (SIGKILL)               before_saving_the_answer_leaves_the_order_found;
                                                  test_submit.py::test_a_worker_that_died_after_sending_leaves_an_
                                                  order_reconciliation_finds (in process)
 4  the same job on two workers at once           test_worker_processes.py::test_the_same_job_on_two_worker_
                                                  processes_at_once_sends_once; test_faults.py::test_the_same_job_
                                                  delivered_again_while_the_first_is_sending_sends_nothing;
                                                  test_submit.py::test_two_workers_with_the_same_job_at_once_send_
                                                  once (threads); test_submit.py::test_the_same_job_delivered_
                                                  twice_sends_once
 5  the task broker restarts, queued jobs lost    test_worker_processes.py::test_jobs_lost_with_a_restarted_task_
                                                  broker_are_sent_once_by_the_relay (a private redis-server
                                                  killed); test_tasks.py::test_the_relay_sends_orders_and_cancels_
                                                  a_lost_message_left_waiting; test_faults.py::test_an_enqueue_
                                                  lost_to_a_task_broker_down_at_commit_is_made_good_by_the_relay
 6  a job delayed past the visibility timeout     test_faults.py::test_a_job_delivered_again_after_the_visibility_
                                                  timeout_sends_nothing; test_faults.py::test_a_job_delayed_until_
                                                  the_relay_sent_its_order_sends_nothing; test_faults.py::test_a_
                                                  job_delayed_until_its_order_was_settled_sends_nothing;
                                                  test_submit.py::test_a_job_whose_lease_is_nearly_over_sends_
                                                  nothing; test_tasks.py::test_an_unknown_order_brings_one_follow_
                                                  up_reconciliation_within_the_cap; test_faults.py::test_a_send_
                                                  held_up_past_the_lease_never_reaches_the_broker (xfail: a bug)
 7  an accepted order missing from the listing    test_reconcile.py::test_an_accepted_order_missing_from_the_
    for several seconds                           listing_for_a_while_is_not_settled_too_early
 8  the listing changes between pages             test_reconcile.py::test_a_listing_that_changes_between_pages_is_
                                                  read_again_and_counted_once; test_faults.py::test_a_lost_answer_
                                                  and_fills_in_a_listing_that_changes_between_pages_count_once
 9  duplicate, replayed, out-of-order fills, a    test_ledger_fills.py::test_duplicate_replayed_out_of_order_and_
    fill before the acknowledgement (no           excess_reports_count_each_share_once; test_ledger_fills.py::
    overfill)                                     test_a_fill_before_the_acknowledgement_is_counted_once_and_the_
                                                  late_answer_only_adds_the_number; test_faults.py::test_notices_
                                                  and_listings_repeating_the_brokers_fills_count_each_share_once;
                                                  test_fills.py::test_shuffled_duplicated_and_dropped_reports_
                                                  count_each_share_once (property)
10  execution notices stop during fills           test_faults.py::test_fills_after_the_notices_stopped_are_
                                                  recovered_by_polling_once
11  orders placed outside the platform (HTS/MTS)  test_reconcile.py::test_an_order_placed_in_hts_is_adopted_as_
                                                  external_and_flagged_once; test_faults.py::test_an_outside_order_
                                                  beside_a_lost_answer_is_adopted_and_ours_found
12  a token expiring while many workers need one  test_faults.py::test_a_token_expiring_while_many_workers_send_
                                                  is_issued_once_and_each_order_sent_once;
                                                  trading/tests/test_sharing_processes.py (processes share one)
13  rate-limit refusals (retried, one order)      test_submit.py::test_rate_limit_refusals_are_retried_and_still_
                                                  one_order_reaches_the_broker; test_submit.py::test_a_rate_limit_
                                                  that_never_ends_rejects_with_the_message_and_places_nothing
14  a kill switch pulled with orders in flight    test_faults.py::test_a_kill_switch_pulled_with_orders_in_flight_
                                                  sends_nothing_new_and_cancels_each_once;
                                                  trading/tests/test_killswitch.py (paper broker)
15  a position that differs from the broker       test_reconcile.py::test_a_position_that_differs_from_the_broker_
    (raised, never traded on)                     is_raised_and_blocks_until_resolved; test_place.py::test_no_
                                                  trading_on_a_mismatched_position
== ============================================ ===============================================================

The real-process tests (``test_worker_processes.py``) run on the full stack only (PostgreSQL + Redis);
everything else runs on both backends.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from core.audit import Actor
from trading import connections, sharing
from trading.brokers.http import send_guard
from trading.killswitch import kill_switch_pull
from trading.orders import reconcile, services, tasks
from trading.orders.fills import FillReport
from trading.orders.models import Fill, FillSource, Order, Position

from .conftest import CANCEL_PATH, KEY, ORDER_PATH, later, new_order

pytestmark = pytest.mark.django_db
D = Decimal
SYMBOL = "005930"


def journal(fake) -> list:
    """The broker's orders (cancel rows left out), as KIS lists them."""
    return fake.placed()


def held_at_broker(fake) -> Decimal:
    return fake.book.accounts[KEY].positions.get(SYMBOL, [D(0)])[0]


def assert_positions_equal(kis) -> None:
    """The ledger's position (opening holdings + fills counted once) equals the broker's balance."""
    position = Position.objects.get(account=kis.account, symbol=SYMBOL)
    fills = sum(Fill.objects.filter(account=kis.account, side="buy").values_list("quantity", flat=True)) - \
        sum(Fill.objects.filter(account=kis.account, side="sell").values_list("quantity", flat=True))
    assert position.quantity == held_at_broker(kis.fake) == position.opening_quantity + fills
    assert not position.mismatch


# -- 4: the same job twice at once ------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_same_job_delivered_again_while_the_first_is_sending_sends_nothing(kis, no_jobs):
    order = new_order(kis.account)
    sending = kis.fake.hold_next(ORDER_PATH)  # the first delivery's request, before KIS sees it
    outcome = {}

    def first_delivery() -> None:
        try:
            outcome["first"] = tasks.order_submit.run(order.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=first_delivery)
    thread.start()
    assert sending.wait_arrived(10)
    assert tasks.order_submit.run(order.pk) is None  # the second delivery, meanwhile
    sending.release()
    thread.join(timeout=30)
    [placed] = journal(kis.fake)
    assert outcome == {"first": "accepted"} and kis.fake.count(ORDER_PATH) == 1
    assert Order.objects.get(pk=order.pk).broker_order_no == placed.odno


# -- 5: the task broker --------------------------------------------------------------------------
def test_an_enqueue_lost_to_a_task_broker_down_at_commit_is_made_good_by_the_relay(
        kis, monkeypatch, settings, django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(tasks.order_submit, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        order = new_order(kis.account)  # written; its job never reached the task broker
    assert Order.objects.get(pk=order.pk).state == "new" and journal(kis.fake) == []
    sent = []
    monkeypatch.setattr(tasks.order_submit, "delay", sent.append)  # the broker is back
    settings.ORDER_RELAY_AFTER_SECONDS = 0
    assert tasks.orders_relay.run()["submit"] == 1 and sent == [order.pk]
    for order_id in sent:
        tasks.order_submit.run(order_id)
    assert tasks.order_submit.run(order.pk) is None  # the lost message turns up after all
    order.refresh_from_db()
    [placed] = journal(kis.fake)
    assert (order.state, order.broker_order_no) == ("accepted", placed.odno)


# -- 6: delayed jobs -------------------------------------------------------------------------------
def test_a_job_delivered_again_after_the_visibility_timeout_sends_nothing(kis, no_jobs):
    order = new_order(kis.account)
    assert tasks.order_submit.run(order.pk) == "accepted"
    later(3601)  # Redis hands an unacknowledged job out again after an hour
    assert tasks.order_submit.run(order.pk) is None
    order.refresh_from_db()
    assert order.state == "accepted" and len(journal(kis.fake)) == 1 and kis.fake.count(ORDER_PATH) == 1


def test_a_job_delayed_until_the_relay_sent_its_order_sends_nothing(kis, no_jobs, settings,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = new_order(kis.account)  # its job is stuck behind a long queue
    settings.ORDER_RELAY_AFTER_SECONDS = 0
    assert tasks.orders_relay.run()["submit"] == 1
    assert tasks.order_submit.run(no_jobs["submit"][-1]) == "accepted"
    assert tasks.order_submit.run(no_jobs["submit"][0]) is None  # the original job, at last
    assert no_jobs["submit"] == [order.pk, order.pk] and kis.fake.count(ORDER_PATH) == 1


def test_a_job_delayed_until_its_order_was_settled_sends_nothing(kis, no_jobs, settings):
    settings.ORDER_NOT_PLACED_AFTER_SECONDS = 20
    order = services.order_claim(order_id=new_order(kis.account).pk)  # this job's worker died
    later(31)
    for _ in range(4):
        reconcile.account_reconcile(account=kis.account)
        later(8)
    assert Order.objects.get(pk=order.pk).state == "not_placed"
    assert tasks.order_submit.run(order.pk) is None  # a copy of its job, delayed past all that
    assert kis.fake.count(ORDER_PATH) == 0 and journal(kis.fake) == []


def test_a_send_held_up_past_the_lease_never_reaches_the_broker(kis, no_jobs, settings, monkeypatch):
    settings.ORDER_NOT_PLACED_AFTER_SECONDS = 20
    budget = sharing.shared_budget()

    class Congested:
        """The account's request budget is taken by others for a while (a mock account at 1/s
        shared by many workers): the order waits, reconciliations go on meanwhile."""

        stalled = False

        def acquire(self, key, *, per_second, priority=False):
            if priority and not self.stalled:
                self.stalled = True
                later(31)  # the lease runs out while the order waits for its slot
                with send_guard(lambda: True):  # another worker's reconciliations, not under the order's guard
                    for _ in range(4):
                        reconcile.account_reconcile(account=kis.account)
                        later(8)
            budget.acquire(key, per_second=per_second, priority=priority)

    monkeypatch.setattr(sharing, "shared_budget", Congested)
    order = services.order_submit(order_id=new_order(kis.account).pk)
    assert order.state == "not_placed"  # settled absent while the request still waited
    assert journal(kis.fake) == []


# -- 8: the listing changes between pages ----------------------------------------------------------
def test_a_lost_answer_and_fills_in_a_listing_that_changes_between_pages_count_once(kis, no_jobs):
    reconcile.account_reconcile(account=kis.account)  # 10 shares held before: the opening position
    orders = [services.order_submit(order_id=new_order(kis.account, quantity=1, price=None).pk) for _ in range(15)]
    kis.fake.lose_answer_next(ORDER_PATH)
    lost = services.order_submit(order_id=new_order(kis.account, quantity=2, price=None).pk)
    assert lost.state == "unknown" and len(journal(kis.fake)) == 16  # more than one mock page (15 rows)
    kis.fake.change_between_pages = 1
    summary = reconcile.account_reconcile(account=kis.account)
    assert (summary.found, summary.external, summary.fills, summary.error) == (1, 0, 16, "")
    kis.fake.change_between_pages = 1
    assert reconcile.account_reconcile(account=kis.account).fills == 0
    lost.refresh_from_db()
    assert (lost.state, lost.broker_order_no) == ("filled", journal(kis.fake)[-1].odno)
    assert Order.objects.filter(state="filled").count() == 16 == len(orders) + 1
    assert Fill.objects.count() == 16
    assert_positions_equal(kis)


# -- 9 and 10: fills from notices and listings ---------------------------------------------------
def notice(order, cumulative, price):
    """An execution notice (KIS H0STCNI0, CNTG_YN 2) as the ledger books it."""
    return services.order_fill_record(order_id=order.pk, source=FillSource.NOTICE,
                                      report=FillReport(order.broker_order_no, D(cumulative), price=D(price)))


def test_notices_and_listings_repeating_the_brokers_fills_count_each_share_once(kis, no_jobs):
    reconcile.account_reconcile(account=kis.account)
    order = services.order_submit(order_id=new_order(kis.account, quantity=10).pk)
    kis.fake.fill(order.broker_order_no, 3, 70_000)
    assert notice(order, 3, 70_000) is not None
    assert notice(order, 3, 70_000) is None  # the same notice twice
    kis.fake.fill(order.broker_order_no, 4, 69_900)
    assert reconcile.account_reconcile(account=kis.account).fills == 1  # the listing first, this time
    assert notice(order, 7, 69_900) is None  # the notice of the same fill, late
    assert notice(order, 3, 70_000) is None  # a replay
    kis.fake.fill(order.broker_order_no, 3, 70_000)
    assert notice(order, 12, 70_000) is not None  # an over-report: 3 counted, never 5
    assert reconcile.account_reconcile(account=kis.account).fills == 0
    order.refresh_from_db()
    [placed] = journal(kis.fake)
    assert (order.state, order.filled_quantity, placed.filled) == ("filled", 10, 10)
    assert order.filled_amount == placed.filled_amount
    assert list(Fill.objects.values_list("quantity", flat=True)) == [3, 4, 3]
    assert_positions_equal(kis)


def test_fills_after_the_notices_stopped_are_recovered_by_polling_once(kis, no_jobs):
    reconcile.account_reconcile(account=kis.account)
    order = services.order_submit(order_id=new_order(kis.account, quantity=10).pk)
    kis.fake.fill(order.broker_order_no, 2, 70_000)
    notice(order, 2, 70_000)
    kis.fake.fill(order.broker_order_no, 3, 69_900)
    notice(order, 5, 69_900)
    kis.fake.fill(order.broker_order_no, 2, 70_000)  # the notices stop here
    kis.fake.fill(order.broker_order_no, 3, 69_800)
    assert reconcile.account_reconcile(account=kis.account).fills == 1
    assert reconcile.account_reconcile(account=kis.account).fills == 0
    order.refresh_from_db()
    [placed] = journal(kis.fake)
    assert (order.state, order.filled_quantity, order.filled_amount) == ("filled", 10, placed.filled_amount)
    recovered = Fill.objects.get(source=FillSource.LISTING)
    assert (recovered.quantity, recovered.price) == (5, D(69_880))  # 2 at 70,000 and 3 at 69,800
    assert_positions_equal(kis)


# -- 11: outside orders ----------------------------------------------------------------------------
def test_an_outside_order_beside_a_lost_answer_is_adopted_and_ours_found(kis, no_jobs):
    kis.fake.lose_answer_next(ORDER_PATH)
    ours = services.order_submit(order_id=new_order(kis.account, quantity=3, price=69_500).pk)
    outside = kis.fake.add_order(KEY, SYMBOL, 4, 69_500)  # the same price, placed in the MTS
    summary = reconcile.account_reconcile(account=kis.account)
    assert (summary.found, summary.external) == (1, 1)
    ours.refresh_from_db()
    adopted = Order.objects.get(external=True)
    assert ours.broker_order_no != outside.odno and adopted.broker_order_no == outside.odno
    assert (ours.state, adopted.state, adopted.quantity, adopted.flag != "") == ("accepted", "accepted", 4, True)
    assert reconcile.account_reconcile(account=kis.account).external == 0
    assert Order.objects.count() == 2 == len(journal(kis.fake))


# -- 12: a token expiring under load ---------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_token_expiring_while_many_workers_send_is_issued_once_and_each_order_sent_once(kis, no_jobs):
    first = services.order_submit(order_id=new_order(kis.account, quantity=1).pk)
    assert first.state == "accepted" and kis.fake.token_issuances(KEY) == 1
    later(61)
    kis.fake.advance(61)  # past KIS's one issuance a minute
    kis.fake.expire_tokens(KEY)  # KIS no longer takes the token every worker holds
    orders = [new_order(kis.account, quantity=q) for q in range(2, 8)]
    start = threading.Barrier(len(orders))
    states = {}

    def worker(order_id: int) -> None:
        try:
            start.wait()
            states[order_id] = services.order_submit(order_id=order_id).state
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(o.pk,)) for o in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(states.values()) == {"accepted"} and len(states) == len(orders)
    assert kis.fake.token_issuances(KEY) == 2 and kis.fake.count("/oauth2/tokenP") == 2
    assert sorted(o.quantity for o in journal(kis.fake)) == list(range(1, 8))  # each intent once
    numbers = dict(Order.objects.values_list("quantity", "broker_order_no"))
    assert numbers == {o.quantity: o.odno for o in journal(kis.fake)}


# -- 14: a kill switch with orders in flight ---------------------------------------------------------
def test_a_kill_switch_pulled_with_orders_in_flight_sends_nothing_new_and_cancels_each_once(
        kis, no_jobs, django_capture_on_commit_callbacks):
    resting = services.order_submit(order_id=new_order(kis.account, quantity=1, price=69_000).pk)
    kis.fake.lose_answer_next(ORDER_PATH)
    unknown = services.order_submit(order_id=new_order(kis.account, quantity=2, price=69_000).pk)
    claimed = services.order_claim(order_id=new_order(kis.account, quantity=3, price=69_000).pk)
    sending = services.order_claim(order_id=new_order(kis.account, quantity=4, price=69_000).pk)
    ack = connections.broker_client(kis.account).place_order(services._request(sending))  # answer on its way
    queued = new_order(kis.account, quantity=5, price=69_000)
    assert (resting.state, unknown.state) == ("accepted", "unknown")

    with django_capture_on_commit_callbacks(execute=True):
        kill_switch_pull(actor=Actor.of_user(kis.account.owner), scope="account", account=kis.account,
                         reason="strategy ran wild", cancel_open_orders=True)
        assert services.order_send(order=claimed).state == "rejected"  # claimed, not yet sent: stopped
        services.order_record_ack(order_id=sending.pk, ack=ack)  # sent before the switch: cancelled
        reconcile.account_reconcile(account=kis.account)  # the unknown one found, then cancelled
        assert tasks.order_submit.run(queued.pk) is None  # cancelled before its job came
    for order_id in no_jobs["cancel"]:
        services.order_cancel_send(order_id=order_id)

    states = dict(Order.objects.values_list("quantity", "state"))
    assert states == {1: "cancelled", 2: "cancelled", 3: "rejected", 4: "cancelled", 5: "cancelled"}
    assert sorted(no_jobs["cancel"]) == sorted([resting.pk, unknown.pk, sending.pk])
    assert sorted(o.quantity for o in journal(kis.fake)) == [1, 2, 4]  # each sent intent once
    assert all(o.remaining == 0 for o in journal(kis.fake))
    assert kis.fake.count(ORDER_PATH) == 3 and kis.fake.count(CANCEL_PATH) == 3
    assert Order.objects.get(quantity=3).reject_code == "kill_switch_account"
