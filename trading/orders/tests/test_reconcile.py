"""Reconciliation against the fake KIS: listings that lag or change between pages, orders placed in
HTS, fills and states from the listing (idempotent), positions equal to the broker's balance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core import clock
from trading.orders import positions, reconcile, services
from trading.orders.models import Fill, Order, OrderEvent, Position, Reconciliation

from .conftest import KEY, MORNING, ORDER_PATH, later, new_order

pytestmark = pytest.mark.django_db
D = Decimal


def held(fake, symbol="005930") -> tuple[Decimal, Decimal]:
    quantity, average = fake.book.accounts[KEY].positions.get(symbol, [D(0), D(0)])
    return quantity, average


def test_an_accepted_order_missing_from_the_listing_for_a_while_is_not_settled_too_early(kis, no_jobs, settings):
    settings.ORDER_NOT_PLACED_MISSES, settings.ORDER_NOT_PLACED_AFTER_SECONDS = 3, 20
    kis.fake.listing_lag = 15  # the broker took it, its listing shows it 15 s later
    kis.fake.lose_answer_next(ORDER_PATH)
    order = services.order_submit(order_id=new_order(kis.account).pk)
    for _ in range(5):
        assert reconcile.account_reconcile(account=kis.account).not_placed == 0
        later(3)
    order.refresh_from_db()
    assert (order.state, order.missed_lookups) == ("unknown", 5)
    kis.fake.advance(16)
    assert reconcile.account_reconcile(account=kis.account).found == 1
    order.refresh_from_db()
    assert order.state == "accepted" and order.broker_order_no == kis.fake.placed()[0].odno
    assert len(kis.fake.placed()) == 1


def test_an_order_placed_in_hts_is_adopted_as_external_and_flagged_once(kis, no_jobs):
    outside = kis.fake.add_order(KEY, "005930", 2, 69_000)
    summary = reconcile.account_reconcile(account=kis.account)
    [order] = Order.objects.all()
    assert summary.external == 1 and order.external and order.source == "external" and order.flag
    assert (order.owner, order.state, order.broker_order_no, order.quantity) == (
        kis.account.owner, "accepted", outside.odno, D(2))
    assert reconcile.account_reconcile(account=kis.account).external == 0 and Order.objects.count() == 1
    kis.fake.fill(outside.odno, 2)
    reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert order.state == "filled" and Position.objects.get(symbol="005930").quantity == held(kis.fake)[0]


def test_a_row_of_an_order_still_being_sent_waits_for_its_answer(kis, no_jobs):
    from trading import connections

    order = services.order_claim(order_id=new_order(kis.account).pk)
    ack = connections.broker_client(kis.account).place_order(services._request(order))  # answer on its way
    assert reconcile.account_reconcile(account=kis.account).external == 0
    order = services.order_record_ack(order_id=order.pk, ack=ack)
    assert order.state == "accepted" and Order.objects.count() == 1
    assert reconcile.account_reconcile(account=kis.account).external == 0


def test_a_listing_that_changes_between_pages_is_read_again_and_counted_once(kis, no_jobs):
    for _ in range(20):  # more than one mock page (15 rows)
        kis.fake.add_order(KEY, "005930", 1, 69_000)
    kis.fake.change_between_pages = 1
    assert reconcile.account_reconcile(account=kis.account).external == 20
    assert Order.objects.filter(external=True).count() == 20
    assert reconcile.account_reconcile(account=kis.account).external == 0


def test_fills_and_states_come_from_the_listing_once_and_positions_equal_the_balance(kis, no_jobs):
    first = reconcile.account_reconcile(account=kis.account)
    opening = Position.objects.get(symbol="005930")
    assert (first.mismatches, opening.quantity, opening.opening_quantity, opening.mismatch) == (0, 10, 10, False)
    buy = services.order_submit(order_id=new_order(kis.account, quantity=5).pk)
    kis.fake.fill(buy.broker_order_no, 2, 70_000)
    assert reconcile.account_reconcile(account=kis.account).fills == 1
    buy.refresh_from_db()
    assert (buy.state, buy.filled_quantity) == ("partially_filled", 2)
    kis.fake.fill(buy.broker_order_no, 3, 69_900)
    reconcile.account_reconcile(account=kis.account)
    sell = services.order_submit(order_id=new_order(kis.account, quantity=4, price=None, side="sell").pk)
    summary = reconcile.account_reconcile(account=kis.account)
    buy.refresh_from_db()
    sell.refresh_from_db()
    assert (buy.state, buy.average_fill_price, sell.state) == ("filled", D(69_940), "filled")
    position = Position.objects.get(symbol="005930")
    quantity, average = held(kis.fake)
    assert (position.quantity, summary.mismatches, position.mismatch) == (quantity, 0, False) and quantity == 11
    assert abs(position.average_cost - average) <= 1
    assert position.realized_pnl > 0 and position.commission > 0 and position.tax > 0
    counted = (Fill.objects.count(), OrderEvent.objects.count())
    assert reconcile.account_reconcile(account=kis.account).fills == 0
    assert (Fill.objects.count(), OrderEvent.objects.count()) == counted


def test_a_position_that_differs_from_the_broker_is_raised_and_blocks_until_resolved(
        kis, no_jobs, django_capture_on_commit_callbacks, monkeypatch):
    from core import events

    published = []
    monkeypatch.setattr(events, "deliver", published.append)
    reconcile.account_reconcile(account=kis.account)
    kis.fake.book.accounts[KEY].positions["005930"][0] -= 3  # moved at the broker without an order
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile.account_reconcile(account=kis.account).mismatches == 1
    position = Position.objects.get(symbol="005930")
    assert position.mismatch and position.broker_quantity == 7 and "7" in position.mismatch_note
    assert positions.position_has_mismatch(account_id=kis.account.pk, symbol="005930")
    assert [e.name for e in published] == ["position.mismatch"]
    kis.fake.book.accounts[KEY].positions["005930"][0] += 3
    reconcile.account_reconcile(account=kis.account)
    assert not positions.position_has_mismatch(account_id=kis.account.pk, symbol="005930")


def test_a_day_order_still_open_after_the_close_expires(kis, no_jobs):
    order = services.order_submit(order_id=new_order(kis.account, price=69_000).pk)
    kis.fake.fill(order.broker_order_no, 1, 69_000)
    clock.set_to(dt.datetime.combine(MORNING.date(), dt.time(15, 41), MORNING.tzinfo))
    reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert (order.state, order.filled_quantity, order.cancelled_quantity) == ("expired", 1, 2)


def test_a_broker_error_decides_nothing_and_is_recorded(kis, no_jobs):
    kis.fake.lose_answer_next(ORDER_PATH)
    order = services.order_submit(order_id=new_order(kis.account).pk)
    kis.fake.fail_next("/uapi/domestic-stock/v1/trading/inquire-daily-ccld", "timeout")
    summary = reconcile.account_reconcile(account=kis.account)
    order.refresh_from_db()
    assert summary.error and order.state == "unknown" and order.missed_lookups == 0
    assert Reconciliation.objects.get(account=kis.account).error == summary.error


def test_reconciliation_keeps_the_balance_the_order_checks_read_fresh(kis, no_jobs):
    kis.fake.book.accounts[KEY].cash = D(4_321_000)
    reconcile.account_reconcile(account=kis.account)
    kis.account.refresh_from_db()
    assert kis.account.balance_snapshot["orderable_cash"] == "4321000" and kis.account.balance_at is not None
    assert [p["symbol"] for p in kis.account.balance_snapshot["positions"]] == ["005930"]
