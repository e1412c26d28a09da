"""Revisions (정정) on the same discipline as orders and cancels: checked, sent at most once, the
replacement written with the broker's new number, a lost answer settled by the listing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.audit import Actor
from core.errors import ApplicationError, NotFound
from trading.killswitch import kill_switch_pull
from trading.orders import reconcile, revise, services, tasks
from trading.orders.models import Order

from .conftest import CANCEL_PATH, new_order

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def revisions(monkeypatch, no_jobs) -> list[int]:
    queued: list[int] = []
    monkeypatch.setattr(revise, "enqueue_revise", queued.append)
    return queued


def accepted(kis, quantity: int = 5, price: int = 70_000) -> Order:
    order = services.order_submit(order_id=new_order(kis.account, quantity=quantity, price=price).pk)
    assert order.state == "accepted"
    return order


def ask(order: Order, price: int, quantity: int | None = None) -> Order:
    return revise.order_revise_request(actor=Actor.of_user(order.owner), order=order, price=D(price),
                                       quantity=None if quantity is None else D(quantity))


def test_a_revision_moves_the_remaining_quantity_to_a_new_broker_order_once(
        kis, revisions, django_capture_on_commit_callbacks):
    order = accepted(kis)
    with django_capture_on_commit_callbacks(execute=True):
        ask(order, 69_500)
    assert revisions == [order.pk]
    replacement = revise.order_revise_send(order_id=order.pk)
    assert revise.order_revise_send(order_id=order.pk) is None  # a second delivery sends nothing
    assert kis.fake.count(CANCEL_PATH) == 1
    order.refresh_from_db()
    assert (order.state, order.cancelled_quantity) == ("cancelled", 5)
    assert (replacement.state, replacement.quantity, replacement.price) == ("accepted", 5, 69_500)
    assert replacement.replaces_id == order.pk and replacement.broker_order_no != order.broker_order_no
    [_, new] = kis.fake.placed()
    assert (new.odno, new.original, new.price) == (replacement.broker_order_no, order.broker_order_no, 69_500)
    reconcile.account_reconcile(account=kis.account)  # the revision's row is the replacement, not a stranger
    assert Order.objects.count() == 2 and not Order.objects.filter(external=True).exists()
    kis.fake.fill(replacement.broker_order_no, 5, 69_500)
    reconcile.account_reconcile(account=kis.account)
    replacement.refresh_from_db()
    assert (replacement.state, replacement.filled_quantity) == ("filled", 5)


def test_part_of_an_order_revised_leaves_the_rest_open_at_its_price(kis, revisions):
    order = accepted(kis)
    ask(order, 70_100, quantity=2)
    replacement = revise.order_revise_send(order_id=order.pk)
    order.refresh_from_db()
    assert (order.state, order.remaining_quantity, replacement.quantity) == ("accepted", 3, 2)
    reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert (order.state, order.remaining_quantity) == ("accepted", 3) and Order.objects.count() == 2


def test_a_revision_that_loses_the_race_to_a_fill_is_refused_and_the_order_stays(kis, revisions):
    order = accepted(kis)
    ask(order, 69_000)
    kis.fake.fill(order.broker_order_no, 5, 70_000)
    order = revise.order_revise_send(order_id=order.pk)
    assert order.revise_requested_at is None and order.events.filter(code="FAKE0004").exists()
    reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert (order.state, order.filled_quantity) == ("filled", 5) and Order.objects.count() == 1


def test_a_lost_answer_is_never_resent_and_the_listing_writes_the_replacement(kis, revisions):
    order = accepted(kis)
    ask(order, 69_500)
    kis.fake.lose_answer_next(CANCEL_PATH)
    order = revise.order_revise_send(order_id=order.pk)
    assert order.revise_sent_at and order.events.filter(code="revise_unknown").exists()
    assert tasks.order_revise.run(order.pk) is None  # redelivered: not sent again
    reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    replacement = Order.objects.get(replaces=order)
    assert (order.state, replacement.state, replacement.external) == ("cancelled", "accepted", False)
    assert kis.fake.count(CANCEL_PATH) == 1 and len(kis.fake.placed()) == 2


def test_the_checks_name_what_is_wrong(kis, revisions, other_user, samsung):
    order = accepted(kis)
    with pytest.raises(ApplicationError) as off_tick:
        ask(order, 69_550)
    assert (off_tick.value.code, off_tick.value.field) == ("off_tick", "price")
    with pytest.raises(ApplicationError) as too_many:
        ask(order, 69_500, quantity=6)
    assert too_many.value.code == "invalid_quantity" and "5" in too_many.value.message
    with pytest.raises(NotFound):
        revise.order_revise_request(actor=Actor.of_user(other_user), order=order, price=D(69_500))
    ask(order, 69_500)
    with pytest.raises(ApplicationError) as pending:
        ask(order, 69_400)
    assert pending.value.code == "revise_pending"
    assert kis.fake.count(CANCEL_PATH) == 0


def test_no_revision_under_a_kill_switch(kis, revisions):
    order = accepted(kis)
    kill_switch_pull(actor=Actor.of_user(order.owner), scope="account", account=kis.account, reason="stop")
    with pytest.raises(ApplicationError) as error:
        ask(order, 69_500)
    assert error.value.code.startswith("kill_switch")


def test_a_cancel_drops_a_revision_not_yet_sent(kis, revisions):
    order = accepted(kis)
    ask(order, 69_500)
    order = services.order_cancel_request(actor=Actor.of_user(order.owner), order=order)
    assert order.state == "cancel_requested" and order.revise_requested_at is None
    assert revise.order_revise_send(order_id=order.pk) is None and kis.fake.count(CANCEL_PATH) == 0


def test_the_relay_sends_a_revision_whose_enqueue_was_lost(kis, revisions, settings):
    order = ask(accepted(kis), 69_500)
    later = order.revise_requested_at + dt.timedelta(seconds=6)
    assert services.orders_waiting(now=order.revise_requested_at)["revise"] == []  # its own job may come
    assert services.orders_waiting(now=later)["revise"] == [order.pk]
    tasks.orders_relay.run()  # (the trading clock is pinned: the relay looks "now")
    revise.order_revise_send(order_id=order.pk)
    assert services.orders_waiting(now=later)["revise"] == [] and kis.fake.count(CANCEL_PATH) == 1


def test_a_paper_order_is_revised_in_the_book(paper_account, revisions):
    order = services.order_submit(order_id=new_order(paper_account, quantity=2, price=60_000).pk)
    assert order.state == "accepted"
    ask(order, 61_000)
    replacement = revise.order_revise_send(order_id=order.pk)
    assert (replacement.state, replacement.price) == ("accepted", 61_000)
    reconcile.account_reconcile(account=paper_account)
    order.refresh_from_db()
    assert order.state == "cancelled" and Order.objects.filter(account=paper_account).count() == 2
