"""The ledger over the platform's paper broker (``PaperClient``): the same discipline, checked against
the paper book's own journal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from trading.brokers.base import UnknownOutcome
from trading.orders import reconcile, services
from trading.orders.models import Fill, Position
from trading.paper.client import PaperClient
from trading.paper.models import PaperFill, PaperOrder

from .conftest import new_order

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _bars_only(settings):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""


def test_a_paper_order_reaches_the_book_once_and_the_position_equals_its_balance(paper_account, no_jobs):
    order = services.order_submit(order_id=new_order(paper_account, quantity=10, price=None).pk)
    assert order.state == "accepted" and services.order_submit(order_id=order.pk) is None
    assert PaperOrder.objects.count() == 1
    reconcile.account_reconcile(account=paper_account)
    order.refresh_from_db()
    assert (order.state, order.average_fill_price) == ("filled", D(71_300))
    sell = services.order_submit(order_id=new_order(paper_account, quantity=4, price=71_300, side="sell").pk)
    summary = reconcile.account_reconcile(account=paper_account)
    sell.refresh_from_db()
    assert (sell.state, summary.mismatches) == ("filled", 0)
    [held] = PaperClient(paper_account).balance().positions
    position = Position.objects.get(account=paper_account, symbol="005930")
    assert position.quantity == held.quantity == 6 and not position.mismatch
    assert position.average_cost == held.average_price == 71_300
    ours = sorted(Fill.objects.values_list("quantity", "commission", "tax"))
    theirs = sorted(PaperFill.objects.values_list("quantity", "commission", "tax"))
    assert ours == theirs  # the same cost helpers, fill for fill


def test_a_paper_refusal_is_rejected_with_its_message(paper_account, no_jobs):
    with translation.override("en"):
        order = services.order_submit(order_id=new_order(paper_account, quantity=10_000, price=None).pk)
    assert order.state == "rejected" and order.reject_code == "insufficient_cash" and order.reject_reason
    assert PaperOrder.objects.count() == 0


def test_a_paper_answer_lost_after_placing_is_found_in_the_book_never_placed_twice(paper_account, no_jobs,
                                                                                 monkeypatch):
    place = PaperClient.place_order

    def placed_then_lost(self, request):
        place(self, request)
        raise UnknownOutcome("the answer was lost", code="timeout")

    monkeypatch.setattr(PaperClient, "place_order", placed_then_lost)
    order = services.order_submit(order_id=new_order(paper_account, quantity=2, price=None).pk)
    assert order.state == "unknown"
    reconcile.account_reconcile(account=paper_account)
    order.refresh_from_db()
    assert (order.state, order.broker_order_no) == ("filled", PaperOrder.objects.get().order_no)
    assert PaperOrder.objects.count() == 1
