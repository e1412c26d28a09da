"""The one door (``order_place``): an order that passes every check reaches the ledger with its job;
each refusal names its rule and field, all of them at once."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import translation

from core import clock
from core.audit import Actor
from core.errors import NotFound
from marketdata.calendars import SEOUL
from trading import health
from trading.killswitch import kill_switch_pull
from trading.models import BrokerAccount
from trading.orders.models import Order, Position
from trading.orders.place import OrderRefused, order_place

from .conftest import new_order

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _bars_only(settings):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def place(account: BrokerAccount, *, quantity: int = 10, price: int | None = 71_300, side: str = "buy",
          **kwargs) -> Order:
    return order_place(actor=Actor.of_user(account.owner), account=account, symbol="005930", side=side,
                       quantity=D(quantity), order_type="limit" if price is not None else "market",
                       price=None if price is None else D(price), **kwargs)


def refusal(account: BrokerAccount, **kwargs) -> OrderRefused:
    with pytest.raises(OrderRefused) as caught:
        place(account, **kwargs)
    return caught.value


def on(error: OrderRefused, code: str) -> dict:
    [failure] = [f for f in error.failures if f["code"] == code]
    return failure


def test_a_paper_order_that_passes_reaches_the_ledger_with_one_job(paper_account, no_jobs,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order = place(paper_account)
    assert (order.state, order.quantity, order.price, order.source) == ("new", 10, 71_300, "manual")
    assert no_jobs["submit"] == [order.pk]


def test_the_same_intent_twice_is_one_order(paper_account, no_jobs):
    key = uuid.uuid4()
    first = place(paper_account, intent_id=key)
    assert place(paper_account, intent_id=key) == first and Order.objects.count() == 1


def test_market_closed_names_the_next_chance(paper_account, no_jobs):
    with clock.travel(dt.datetime(2026, 3, 7, 10, 0, tzinfo=SEOUL)):  # a Saturday
        error = refusal(paper_account)
    failure = on(error, "market_closed")
    assert failure["field"] == "symbol" and "2026-03-09 08:30" in failure["message"]
    assert not error.needs_confirmation and Order.objects.count() == 0 and no_jobs["submit"] == []


def test_every_failure_is_listed_at_once(paper_account, no_jobs):
    error = refusal(paper_account, quantity=200, price=71_350)  # off the 100 KRW grid, and 14 M KRW > 10 M
    assert on(error, "off_tick")["field"] == "price" and "71,300" in on(error, "off_tick")["message"]
    assert on(error, "insufficient_cash")["field"] == "quantity"
    assert error.code == error.failures[0]["code"] and error.message == error.failures[0]["message"]


def test_insufficient_cash_counts_orders_not_yet_in_the_paper_book(paper_account, no_jobs):
    place(paper_account, quantity=100)  # 7.13 M KRW held by a ledger order the book has not seen
    error = refusal(paper_account, quantity=50, price=71_200)
    assert error.codes == ["insufficient_cash"]


@pytest.mark.parametrize("scope", ["account", "user", "global"])
def test_a_kill_switch_refuses_new_orders(paper_account, no_jobs, admin_user, scope):
    target = {"account": {"account": paper_account}, "user": {"user": paper_account.owner}, "global": {}}[scope]
    kill_switch_pull(actor=Actor.of_admin(admin_user), scope=scope, reason="test", **target)
    error = refusal(paper_account)
    assert error.codes == [f"kill_switch_{scope}"] and error.field is None
    assert "kill switch" in error.message and Order.objects.count() == 0


def test_a_limited_broker_refuses_new_orders(user, morning, samsung, no_jobs):
    account = BrokerAccount.objects.create(
        owner=user, broker="kis", environment="mock", account_no="5012345601", nickname="KIS",
        balance_snapshot={"orderable_cash": "1000000", "positions": []})
    health.set_limited(broker="kis", environment="mock", on=True)
    error = refusal(account, quantity=1)
    assert error.codes == ["broker_limited"] and "limited" in error.message
    health.set_limited(broker="kis", environment="mock", on=False)
    assert place(account, quantity=1).state == "new"


def test_a_broker_account_is_checked_against_its_balance_snapshot(user, morning, samsung, no_jobs):
    account = BrokerAccount.objects.create(
        owner=user, broker="kis", environment="mock", account_no="5012345601", nickname="KIS",
        balance_snapshot={"orderable_cash": "1000000", "positions": [
            {"symbol": "005930", "quantity": "5", "sellable_quantity": "5", "evaluation": "356500"}]})
    assert on(refusal(account, quantity=20), "insufficient_cash")["message"].endswith("1,000,000 KRW is available "
                                                                                      "for orders.")
    place(account, quantity=3, side="sell")
    assert refusal(account, quantity=3, side="sell", price=71_400).codes == ["insufficient_quantity"]


def test_no_new_order_while_one_for_the_same_symbol_and_side_is_unresolved(paper_account, no_jobs):
    earlier = new_order(paper_account, quantity=1, price=70_000)
    Order.objects.filter(pk=earlier.pk).update(state="unknown")
    error = refusal(paper_account)
    assert on(error, "unresolved_order")["field"] == "side" and not error.needs_confirmation


def test_the_other_side_is_not_held_by_an_unresolved_order(paper_account, no_jobs):
    earlier = new_order(paper_account, quantity=1, price=70_000)
    Order.objects.filter(pk=earlier.pk).update(state="unknown")
    assert "unresolved_order" not in refusal(paper_account, side="sell").codes  # refused only for lack of shares


def test_no_trading_on_a_mismatched_position(paper_account, no_jobs):
    Position.objects.create(account=paper_account, symbol="005930", mismatch=True, broker_quantity=D(3))
    error = refusal(paper_account)
    assert on(error, "position_mismatch")["field"] == "symbol"


def test_a_duplicate_needs_confirmation_then_passes(paper_account, no_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = place(paper_account)
    error = refusal(paper_account)
    assert error.codes == ["duplicate_order"] and error.needs_confirmation and error.status == 409
    with django_capture_on_commit_callbacks(execute=True):
        second = place(paper_account, confirm=True)
    assert second.pk != first.pk and no_jobs["submit"] == [first.pk, second.pk]


def test_a_duplicate_with_another_failure_is_no_question_of_confirming(paper_account, no_jobs):
    place(paper_account)
    Position.objects.create(account=paper_account, symbol="005930", mismatch=True)
    error = refusal(paper_account)
    assert set(error.codes) == {"duplicate_order", "position_mismatch"} and not error.needs_confirmation


def test_a_market_buy_not_yet_in_the_book_holds_cash_at_the_upper_price_limit(paper_account, no_jobs):
    place(paper_account, quantity=100, price=None)  # held at 92,600 (71,300 + 30 %, on the tick): 9.26 M KRW
    error = refusal(paper_account, quantity=20, price=71_200)  # 1.42 M KRW more: only ~0.74 M is left
    assert error.codes == ["insufficient_cash"]


def test_a_user_cannot_place_on_another_users_account(paper_account, other_user, no_jobs):
    with pytest.raises(NotFound):
        order_place(actor=Actor.of_user(other_user), account=paper_account, symbol="005930", side="buy",
                    quantity=D(1), order_type="limit", price=D(71_300))
    assert Order.objects.count() == 0


def test_a_disabled_account_takes_no_orders(paper_account, no_jobs):
    BrokerAccount.objects.filter(pk=paper_account.pk).update(status="disabled")
    assert refusal(paper_account).codes == ["account_disabled"]


def test_the_messages_speak_the_active_language(paper_account, no_jobs):
    kill_switch_pull(actor=Actor.of_user(paper_account.owner), scope="account", account=paper_account, reason="x")
    with translation.override("ko"):
        korean = refusal(paper_account).message
    assert korean != refusal(paper_account).message and "긴급 정지" in korean


@pytest.mark.django_db(transaction=True)
def test_two_identical_orders_at_once_are_checked_one_after_the_other(paper_account, no_jobs):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises every write anyway)")

    def attempt(_: int) -> str:
        try:
            with translation.override("en"):
                return place(paper_account).state
        except OrderRefused as exc:
            return exc.code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(attempt, range(2)))
    assert outcomes == ["duplicate_order", "new"] and Order.objects.count() == 1


def test_a_kis_account_whose_balance_is_old_is_read_again_before_the_check(kis, samsung, no_jobs):
    from trading.orders.tests.conftest import KEY

    BALANCE_PATH = "/uapi/domestic-stock/v1/trading/inquire-balance"
    kis.fake.book.accounts[KEY].cash = Decimal(5_000_000)
    assert kis.account.balance_at is None
    assert place(kis.account, quantity=50).state == "new"  # 3,565,000 KRW: within the cash just read
    kis.account.refresh_from_db()
    assert kis.account.balance_snapshot["orderable_cash"] == "5000000" and kis.fake.count(BALANCE_PATH) == 1
    assert on(refusal(kis.account, quantity=30, price=71_400), "insufficient_cash")
    assert kis.fake.count(BALANCE_PATH) == 1  # fresh for a minute: not read again
