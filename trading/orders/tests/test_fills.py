"""Fills from cumulative reports (no per-fill id at KIS) and holdings from fills: pure rules."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.orders.fills import FillReport, Holding, fill_increment, fill_key, holding_after_fill

D = Decimal


def increment(known=0, amount=0, quantity=10, **report):
    return fill_increment(order_quantity=D(quantity), known_quantity=D(known), known_amount=D(amount),
                          report=FillReport(order_no="0000000007", **report))


def test_the_key_is_the_order_number_and_the_cumulative_quantity_in_one_spelling():
    assert fill_key("0000000007", D("3.00000000")) == fill_key("0000000007", D(3)) == "0000000007:3"
    assert fill_key("0000000007", D("10")) == "0000000007:10"


def test_a_fill_is_the_difference_at_the_reported_price():
    fill = increment(known=3, amount=3 * 70000, cumulative_quantity=D(5), price=D(70100))
    assert (fill.quantity, fill.price, fill.key) == (D(2), D(70100), "0000000007:5")


def test_a_duplicate_a_replay_or_an_older_report_adds_nothing():
    assert increment(known=5, amount=350000, cumulative_quantity=D(5), price=D(70000)) is None
    assert increment(known=5, amount=350000, cumulative_quantity=D(3), price=D(70000)) is None


def test_only_cumulative_amounts_give_the_increments_price():
    # 3 known at 70,000; the listing now says 5 for 350,400 in all: the 2 new ones cost 70,200
    fill = increment(known=3, amount=210000, cumulative_quantity=D(5), cumulative_amount=D(350400))
    assert (fill.quantity, fill.price) == (D(2), D(70200))
    by_average = increment(known=0, amount=0, cumulative_quantity=D(4), cumulative_average=D(70050))
    assert (by_average.quantity, by_average.price) == (D(4), D(70050))


def test_nothing_beyond_the_orders_quantity_is_counted():
    fill = increment(known=8, amount=8 * 100, cumulative_quantity=D(12), price=D(100))
    assert (fill.quantity, fill.cumulative_quantity, fill.capped) == (D(2), D(10), True)
    assert increment(known=10, amount=1000, cumulative_quantity=D(12), price=D(100)) is None


def test_a_new_fill_without_any_price_is_refused_not_guessed():
    with pytest.raises(ValueError, match="carries no price"):
        increment(cumulative_quantity=D(2))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(1, 5), st.integers(900, 1100)), min_size=1, max_size=8),
       seed=st.integers(0, 10_000), duplicates=st.integers(0, 6))
def test_shuffled_duplicated_and_dropped_reports_count_each_share_once(steps, seed, duplicates):
    """The broker's reports arrive in any order, some twice, some never (only the last is sure):
    the ledger ends with exactly the last cumulative quantity, never more, never twice."""
    quantity = D(sum(q for q, _ in steps))
    reports, cumulative, amount = [], D(0), D(0)
    for filled, price in steps:
        cumulative += filled
        amount += filled * price
        reports.append(FillReport("1", cumulative, price=D(price), cumulative_amount=amount))
    shuffled = random.Random(seed)
    delivered = reports[:-1] + [shuffled.choice(reports) for _ in range(duplicates)]
    shuffled.shuffle(delivered)
    delivered.append(reports[-1])
    known, known_amount, keys = D(0), D(0), set()
    for report in delivered:
        fill = fill_increment(order_quantity=quantity, known_quantity=known, known_amount=known_amount, report=report)
        if fill is None:
            continue
        assert fill.key not in keys and fill.quantity > 0
        keys.add(fill.key)
        known += fill.quantity
        known_amount += fill.quantity * fill.price
    assert known == quantity


def test_a_holding_counts_cost_and_realised_pnl_net_of_commission_and_tax():
    held = holding_after_fill(Holding(), buy=True, quantity=D(10), price=D(70000), commission=D(105))
    held = holding_after_fill(held, buy=True, quantity=D(10), price=D(72000), commission=D(108))
    assert (held.quantity, held.cost, held.average_cost) == (D(20), D(1420000), D(71000))
    sold = holding_after_fill(held, buy=False, quantity=D(5), price=D(75000), commission=D(56), tax=D(675))
    # proceeds 375,000 - cost 355,000 - sell costs 731 - buy commissions 213
    assert (sold.quantity, sold.cost, sold.realized_pnl) == (D(15), D(1065000), D(19056))
    assert (sold.commission, sold.tax) == (D(269), D(675))
    closed = holding_after_fill(sold, buy=False, quantity=D(15), price=D(71000))
    assert (closed.quantity, closed.cost) == (D(0), D(0))
