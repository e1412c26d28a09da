"""Two processes (here: threads with their own connections) acting on one paper book at once."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from trading.brokers.base import OrderRequest, OrderType, Side
from trading.brokers.paper import PaperRefused
from trading.paper import book
from trading.paper.client import PaperClient
from trading.paper.models import PaperBook, PaperOrder

from .conftest import WEDNESDAY, open_paper_account, seoul

pytestmark = pytest.mark.django_db(transaction=True)


def _race(account, requests: list[OrderRequest]) -> list[str]:
    barrier = threading.Barrier(len(requests))
    outcomes: list[str] = []

    def place(request: OrderRequest) -> None:
        try:
            barrier.wait()
            PaperClient(account).place_order(request)
            outcomes.append("placed")
        except PaperRefused as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(outcomes)


@pytest.fixture
def slow_cash_check(monkeypatch):
    """Hold each placement between reading the cash and writing its order, so that without the
    book's lock both would read the same cash (the race the lock exists for)."""
    read = book.reserved_cash

    def slow(paper_book):
        found = read(paper_book)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(book, "reserved_cash", slow)


def test_two_buys_with_cash_for_one_place_one_and_refuse_the_other(user, samsung, at, slow_cash_check):
    at(seoul(WEDNESDAY, 10))
    account = open_paper_account(user, cash=1_000_000)
    buy = OrderRequest(symbol="005930", side=Side.BUY, quantity=Decimal(10), order_type=OrderType.LIMIT,
                       price=Decimal(70_000))  # rests, holding 700,105 of the 1,000,000
    assert _race(account, [buy, buy]) == ["insufficient_cash", "placed"]
    assert PaperOrder.objects.filter(book__account=account).count() == 1
    assert PaperBook.objects.get(account=account).cash == 1_000_000


def test_two_sells_of_the_whole_holding_sell_it_once(user, samsung, at, slow_cash_check, monkeypatch):
    at(seoul(WEDNESDAY, 10))
    account = open_paper_account(user)
    PaperClient(account).place_order(OrderRequest(symbol="005930", side=Side.BUY, quantity=Decimal(10),
                                                  order_type=OrderType.MARKET))
    read = book.sellable_quantity

    def slow(paper_book, symbol):
        found = read(paper_book, symbol)
        time.sleep(0.3)
        return found

    monkeypatch.setattr("trading.paper.book.sellable_quantity", slow)
    sell = OrderRequest(symbol="005930", side=Side.SELL, quantity=Decimal(10), order_type=OrderType.LIMIT,
                        price=Decimal(80_000))
    assert _race(account, [sell, sell]) == ["insufficient_quantity", "placed"]
