"""The order pages: 주문 (list, an order), the ticket, 잔고 (positions, fills, CSV), kill switches.

alice trades on her paper account (10,000,000 KRW; 005930 last closed at 71,300) on a Wednesday
morning; bob's orders and accounts never show to her (404). Bad input is a form error, never a 500.
"""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.audit import Actor
from core.models import AuditEntry
from trading.killswitch import kill_switch_pull
from trading.orders import reconcile, services
from trading.orders.models import Fill, KillSwitch, Order, OrderEvent, Position
from trading.orders.portfolio import TodayTrades, day_pnl
from trading.paper.tests.conftest import open_paper_account

from .conftest import new_order

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _bars_only(settings):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""


@pytest.fixture
def alice(user):
    user.language = "en"
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bobs_order(other_user, samsung, morning):  # noqa: ARG001 - the clock and prices
    account = open_paper_account(other_user, nickname="bob's paper")
    return new_order(account, quantity=1, price=71_300)


def filled_buy(account, quantity: int = 10) -> Order:
    """A market buy through the ledger and the paper book, filled at 71,300 by reconciliation."""
    order = services.order_submit(order_id=new_order(account, quantity=quantity, price=None).pk)
    reconcile.account_reconcile(account=account)
    order.refresh_from_db()
    assert order.state == "filled"
    return order


def ticket(account, **fields) -> dict:
    data = {"account": account.pk, "symbol": "005930", "side": "buy", "order_type": "limit", "price": "71300",
            "mode": "quantity", "quantity": "3", "intent_id": str(uuid.uuid4())}
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


# -- every page ---------------------------------------------------------------------------------
PAGES = ["/trading/orders/", "/trading/orders/new/", "/trading/positions/", "/trading/kill-switches/",
         "/trading/fills.csv", "/trading/orders/new/symbols/?q=삼성", "/trading/orders/new/symbol/?symbol=005930"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_asks_to_sign_in_first(db, path):
    response = Client().get(path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_trading_page_links_to_orders_positions_and_the_ticket(client, paper_account):
    body = client.get("/trading/").content.decode()
    for path in ("/trading/orders/", "/trading/orders/new/", "/trading/positions/", "/trading/kill-switches/"):
        assert f'href="{path}"' in body


def test_pages_without_an_account_point_to_opening_one(client):
    for path in ("/trading/orders/", "/trading/orders/new/", "/trading/positions/", "/trading/kill-switches/"):
        response = client.get(path)
        assert response.status_code == 200 and 'data-testid="no-accounts"' in response.content.decode()


# -- 주문 -----------------------------------------------------------------------------------------
def test_the_list_shows_my_orders_only(client, paper_account, bobs_order, no_jobs):
    mine = new_order(paper_account, quantity=2, price=71_000)
    body = client.get("/trading/orders/").content.decode()
    assert f'data-order-id="{mine.pk}"' in body and f'data-order-id="{bobs_order.pk}"' not in body
    assert "bob&#x27;s paper" not in body


def test_the_list_filters_by_state_symbol_account_and_date(client, paper_account, no_jobs):
    other = open_paper_account(paper_account.owner, nickname="second")
    open_one = new_order(paper_account, quantity=2, price=71_000)
    cancelled = new_order(paper_account, quantity=1, price=70_000)
    services.order_cancel_request(actor=Actor.of_user(paper_account.owner), order=cancelled)
    elsewhere = new_order(other, quantity=1, price=70_000)

    def shown(query: str) -> set[int]:
        body = client.get(f"/trading/orders/?{query}").content.decode()
        return {order.pk for order in (open_one, cancelled, elsewhere) if f'data-order-id="{order.pk}"' in body}

    assert shown("state=open") == {open_one.pk, elsewhere.pk}
    assert shown("state=cancelled") == {cancelled.pk}
    assert shown(f"account={other.pk}") == {elsewhere.pk}
    assert shown("symbol=000660") == set()
    assert shown("symbol=005930") == {open_one.pk, cancelled.pk, elsewhere.pk}
    today = open_one.created_at.astimezone().date()
    assert shown(f"day={today.isoformat()}") == {open_one.pk, cancelled.pk, elsewhere.pk}
    assert shown("day=2001-01-01") == set()


def test_bad_filters_are_form_errors(client, paper_account, bobs_order, no_jobs):
    mine = new_order(paper_account, quantity=2, price=71_000)
    response = client.get(f"/trading/orders/?account={bobs_order.account_id}&day=someday&state=nonsense")
    body = response.content.decode()
    assert response.status_code == 200 and body.count('data-testid="field-error"') == 3
    assert f'data-order-id="{mine.pk}"' in body and f'data-order-id="{bobs_order.pk}"' not in body


def test_unknown_and_external_orders_are_marked(client, paper_account, no_jobs):
    unknown = new_order(paper_account, quantity=2, price=71_000)
    Order.objects.filter(pk=unknown.pk).update(state="unknown")
    external = Order.objects.create(owner=paper_account.owner, account=paper_account, source="external", external=True,
                                    symbol="005930", side="sell", quantity=1, price=72_000, state="accepted")
    body = client.get("/trading/orders/").content.decode()
    assert f'data-order-id="{unknown.pk}" data-state="unknown" class="is-unknown"' in body
    assert f'data-order-id="{external.pk}" data-state="accepted" class="is-external' in body
    assert body.count('data-testid="external-badge"') == 1 and "Checking with the broker" in body
    page = client.get(f"/trading/orders/{external.pk}/").content.decode()
    assert 'data-testid="external-note"' in page


def test_an_order_page_shows_its_timeline_with_each_transition_and_fill(client, paper_account, no_jobs):
    order = filled_buy(paper_account)
    response = client.get(f"/trading/orders/{order.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    steps = list(OrderEvent.objects.filter(order=order).values_list("to_state", flat=True))
    assert steps[:3] == ["new", "submitting", "accepted"] and steps[-1] == "filled"
    assert body.count('data-testid="timeline-event"') == len(steps)
    assert body.count('data-testid="timeline-fill"') == Fill.objects.filter(order=order).count() == 1
    assert "Filled 10 at 71,300" in body and "Order submission" in body
    assert 'data-testid="cancel-order"' not in body  # a filled order has nothing to cancel


def test_another_users_order_is_not_found(client, bobs_order):
    assert client.get(f"/trading/orders/{bobs_order.pk}/").status_code == 404
    assert client.post(f"/trading/orders/{bobs_order.pk}/cancel/").status_code == 404
    bobs_order.refresh_from_db()
    assert bobs_order.state == "new"


def test_cancel_is_a_post_that_cancels_my_order(client, paper_account, no_jobs):
    order = new_order(paper_account, quantity=2, price=71_000)
    assert client.get(f"/trading/orders/{order.pk}/cancel/").status_code == 405
    page = client.get("/trading/orders/").content.decode()
    assert f'action="/trading/orders/{order.pk}/cancel/"' in page and "data-confirm=" in page
    response = client.post(f"/trading/orders/{order.pk}/cancel/", {"next": "/trading/orders/?state=open"})
    assert response.status_code == 302 and response["Location"] == "/trading/orders/?state=open"
    order.refresh_from_db()
    assert order.state == "cancelled"
    assert "was cancelled before it was sent" in client.get("/trading/orders/").content.decode()


def test_cancelling_an_accepted_order_asks_the_broker(client, paper_account, no_jobs,
                                                    django_capture_on_commit_callbacks):
    order = services.order_submit(order_id=new_order(paper_account, quantity=2, price=60_000).pk)
    assert order.state == "accepted"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/trading/orders/{order.pk}/cancel/")
    order.refresh_from_db()
    assert order.state == "cancel_requested" and no_jobs["cancel"] == [order.pk]


def test_cancelling_a_final_order_says_why(client, paper_account, no_jobs):
    order = filled_buy(paper_account)
    response = client.post(f"/trading/orders/{order.pk}/cancel/", follow=True)
    assert response.status_code == 200 and "already final" in response.content.decode()


def test_cancel_never_goes_to_another_site(client, paper_account, no_jobs):
    order = new_order(paper_account, quantity=2, price=71_000)
    response = client.post(f"/trading/orders/{order.pk}/cancel/", {"next": "https://evil.example.com/"})
    assert response["Location"] == f"/trading/orders/{order.pk}/"


# -- the ticket -----------------------------------------------------------------------------------
def test_the_ticket_lists_my_accounts_only_with_a_fresh_intent(client, paper_account, bobs_order):
    body = client.get("/trading/orders/new/").content.decode()
    assert paper_account.nickname in body and "bob&#x27;s paper" not in body
    assert 'name="intent_id"' in body and body != client.get("/trading/orders/new/").content.decode()


def test_the_ticket_reads_the_accounts_once(client, paper_account):
    """The account <select> and its required check share one read (no EXISTS before it either)."""
    client.get("/trading/orders/new/")
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/trading/orders/new/").content.decode()
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "trading_brokeraccount"' in q["sql"]]
    assert len(reads) == 1 and f'<option value="{paper_account.pk}">{paper_account.nickname} · ' in body


def test_review_then_place_writes_one_order(client, paper_account, no_jobs, django_capture_on_commit_callbacks):
    data = ticket(paper_account)
    review = client.post("/trading/orders/new/", {**data, "step": "review"})
    body = review.content.decode()
    assert review.status_code == 200 and 'data-testid="estimate"' in body and Order.objects.count() == 0
    assert "213,900" in body  # 3 × 71,300
    assert 'data-testid="estimate-commission">32<' in body  # 0.015 % of 213,900, rounded down
    with django_capture_on_commit_callbacks(execute=True):
        placed = client.post("/trading/orders/new/", {**data, "step": "place"})
    order = Order.objects.get()
    assert placed.status_code == 302 and placed["Location"] == f"/trading/orders/{order.pk}/"
    assert (order.symbol, order.side, order.quantity, order.price, str(order.intent_id)) == (
        "005930", "buy", 3, 71_300, data["intent_id"])
    assert no_jobs["submit"] == [order.pk]


def test_a_double_submit_is_one_order(client, paper_account, no_jobs):
    data = {**ticket(paper_account), "step": "place"}
    first = client.post("/trading/orders/new/", data)
    second = client.post("/trading/orders/new/", data)
    assert Order.objects.count() == 1 and first["Location"] == second["Location"]


def test_a_used_ticket_with_other_values_places_nothing_and_offers_a_fresh_one(client, paper_account, no_jobs):
    data = {**ticket(paper_account), "step": "place"}
    client.post("/trading/orders/new/", data)
    response = client.post("/trading/orders/new/", {**data, "quantity": "5"})
    assert response.status_code == 409 and Order.objects.count() == 1
    assert data["intent_id"] not in response.content.decode()


def test_a_sell_shows_the_tax(client, paper_account, no_jobs):
    filled_buy(paper_account)
    review = client.post("/trading/orders/new/", {**ticket(paper_account, side="sell"), "step": "review"})
    body = review.content.decode()
    assert review.status_code == 200 and 'data-testid="estimate-tax"' in body and "Proceeds after costs" in body


def test_an_amount_becomes_whole_shares_at_the_price(client, paper_account, no_jobs):
    data = ticket(paper_account, mode="amount", quantity=None, amount="1000000")
    review = client.post("/trading/orders/new/", {**data, "step": "review"})
    body = review.content.decode()
    # 14 × 71,300 = 998,200 and 149 of commission fit in 1,000,000; 15 would not
    assert review.status_code == 200 and 'data-testid="confirm-quantity">14<' in body
    assert 'name="quantity" value="14"' in body and 'name="mode" value="quantity"' in body
    client.post("/trading/orders/new/", {**data, "step": "place"})
    assert Order.objects.get().quantity == 14


def test_an_amount_below_one_share_is_an_error_on_the_amount(client, paper_account):
    response = client.post("/trading/orders/new/", {**ticket(paper_account, mode="amount", quantity=None,
                                                             amount="50000"), "step": "review"})
    assert response.status_code == 400
    assert "buys less than one lot" in field_errors(response, "amount")


def field_errors(response, name: str) -> str:
    """The text of the errors rendered in the field ``name``'s block."""
    body = response.content.decode()
    start = body.index(f'data-field="{name}"')
    end = body.find('data-field="', start + 1)
    return body[start:end if end > 0 else len(body)]


def test_check_failures_land_on_their_fields(client, paper_account):
    response = client.post("/trading/orders/new/", {**ticket(paper_account, price="71350", quantity="1000"),
                                                    "step": "review"})
    assert response.status_code == 400 and Order.objects.count() == 0
    assert "71,350" in field_errors(response, "price") and "71,300" in field_errors(response, "price")  # off tick
    assert 'data-testid="field-error"' in field_errors(response, "quantity")  # not enough cash


def test_a_kill_switch_refusal_is_at_the_top_of_the_form(client, paper_account, alice):
    kill_switch_pull(actor=Actor.of_user(alice), scope="account", account=paper_account, reason="test")
    response = client.post("/trading/orders/new/", {**ticket(paper_account), "step": "place"})
    body = response.content.decode()
    assert response.status_code == 400 and Order.objects.count() == 0
    assert 'data-testid="form-error"' in body and "kill switch is on" in body
    assert 'data-testid="kill-banner"' in body


def test_missing_and_bad_fields_are_form_errors(client, paper_account, bobs_order):
    response = client.post("/trading/orders/new/", {"account": bobs_order.account_id, "symbol": "", "side": "hold",
                                                    "order_type": "limit", "price": "abc", "mode": "quantity",
                                                    "quantity": "-1", "intent_id": "not-a-uuid", "step": "place"})
    assert response.status_code == 400 and Order.objects.count() == 1  # bob's own
    for name in ("account", "symbol", "side", "price", "quantity"):
        assert 'data-testid="field-error"' in field_errors(response, name), name


def test_an_unknown_symbol_is_an_error_on_the_symbol(client, paper_account):
    response = client.post("/trading/orders/new/", {**ticket(paper_account, symbol="999999"), "step": "review"})
    assert response.status_code == 400 and "not a known instrument" in field_errors(response, "symbol")


def test_a_duplicate_asks_to_place_it_anyway(client, paper_account, no_jobs):
    client.post("/trading/orders/new/", {**ticket(paper_account), "step": "place"})
    again = ticket(paper_account)
    review = client.post("/trading/orders/new/", {**again, "step": "review"})
    body = review.content.decode()
    assert review.status_code == 409 and 'data-testid="duplicate-warning"' in body
    assert 'data-testid="place-anyway"' in body and 'name="confirm" value="True"' in body
    refused = client.post("/trading/orders/new/", {**again, "step": "place"})  # without the confirmation
    assert refused.status_code == 409 and Order.objects.count() == 1
    placed = client.post("/trading/orders/new/", {**again, "step": "place", "confirm": "True"})
    assert placed.status_code == 302 and Order.objects.count() == 2


def test_changing_a_confirmed_duplicate_asks_again(client, paper_account, no_jobs):
    client.post("/trading/orders/new/", {**ticket(paper_account), "step": "place"})
    edit = client.post("/trading/orders/new/", {**ticket(paper_account), "confirm": "True", "step": "edit"})
    assert 'name="confirm" value="True"' not in edit.content.decode()
    review = client.post("/trading/orders/new/", {**ticket(paper_account), "confirm": "True", "step": "review"})
    assert review.status_code == 409


def test_the_symbol_search_and_prices_for_the_ticket(client, paper_account):
    search = client.get("/trading/orders/new/symbols/?symbol=삼성").content.decode()
    assert 'data-pick-symbol="005930"' in search
    info = client.get("/trading/orders/new/symbol/?symbol=005930").json()
    assert (info["last"], info["previous_close"], info["tick"]) == ("71300", "71300", "100")
    assert (info["lower"], info["upper"]) == ("49950", "92600")  # ±30 %, inside, on the tick grid
    assert [2000, 5] in info["ticks"] and info["lot"] == "1"
    assert client.get("/trading/orders/new/symbol/?symbol=NOPE").status_code == 404


# -- 잔고 ------------------------------------------------------------------------------------------
def test_positions_show_cost_last_price_and_pnl(client, paper_account, no_jobs):
    filled_buy(paper_account)
    response = client.get(f"/trading/positions/?account={paper_account.pk}")
    body = response.content.decode()
    position = Position.objects.get(account=paper_account, symbol="005930")
    assert response.status_code == 200 and position.quantity == 10
    assert 'data-testid="position-average">71,300<' in body and 'data-testid="position-last">71,300<' in body
    commission = Fill.objects.get().commission
    assert commission > 0
    # bought today at the close it is valued at: today's P&L is the commission paid, realised too
    assert f'data-testid="position-today">-{commission:,.0f}<' in body
    assert f'data-testid="position-realized">-{commission:,.0f}<' in body
    assert 'data-testid="fill-row"' in body


def test_a_mismatched_position_is_flagged(client, paper_account, no_jobs):
    filled_buy(paper_account)
    Position.objects.filter(account=paper_account).update(mismatch=True, broker_quantity=8,
                                                          mismatch_note="broker holds 8")
    body = client.get("/trading/positions/").content.decode()
    assert 'data-testid="mismatch-badge"' in body and 'data-testid="mismatch-alert"' in body
    assert 'class="is-mismatch"' in body


def test_another_users_account_shows_none_of_their_positions(client, paper_account, bobs_order):
    bob_account = bobs_order.account
    Position.objects.create(account=bob_account, symbol="000660", quantity=5, cost=500_000)
    response = client.get(f"/trading/positions/?account={bob_account.pk}")
    body = response.content.decode()
    assert response.status_code == 200 and "000660" not in body and 'data-testid="field-error"' in body
    csv_response = client.get(f"/trading/fills.csv?account={bob_account.pk}")
    assert csv_response.status_code == 302 and "/trading/positions/" in csv_response["Location"]


def test_the_fills_download_as_csv_for_the_date_range(client, paper_account, no_jobs, morning):
    order = filled_buy(paper_account, quantity=4)
    day = morning.date().isoformat()
    response = client.get(f"/trading/fills.csv?account={paper_account.pk}&start={day}&end={day}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1 and rows[0]["order_id"] == str(order.pk)
    assert [rows[0][key] for key in ("symbol", "side", "quantity", "price")] == ["005930", "buy", "4", "71300"]
    earlier = client.get(f"/trading/fills.csv?account={paper_account.pk}&start=2026-01-01&end=2026-01-31")
    assert len(list(csv.DictReader(io.StringIO(b"".join(earlier.streaming_content).decode("utf-8-sig"))))) == 0


def test_the_csv_keeps_a_nickname_from_running_as_a_formula(client, paper_account, no_jobs):
    paper_account.nickname = "=HYPERLINK(\"http://evil.example\")"
    paper_account.save(update_fields=["nickname"])
    filled_buy(paper_account, quantity=1)
    response = client.get(f"/trading/fills.csv?account={paper_account.pk}")
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert row["account"] == "'=HYPERLINK(\"http://evil.example\")"


def test_a_backwards_date_range_is_a_form_error(client, paper_account):
    response = client.get(f"/trading/positions/?account={paper_account.pk}&start=2026-03-05&end=2026-03-01")
    assert response.status_code == 200 and "The start date is after the end date." in response.content.decode()
    assert client.get(f"/trading/fills.csv?account={paper_account.pk}&start=2026-03-05&end=2026-03-01"
                      ).status_code == 302


def test_check_with_the_broker_now_enqueues_one_reconciliation(client, paper_account, bobs_order, monkeypatch):
    from trading.orders import tasks

    asked = []
    monkeypatch.setattr(tasks.orders_reconcile_account, "delay", asked.append)
    assert client.get(f"/trading/accounts/{paper_account.pk}/reconcile/").status_code == 405
    client.post(f"/trading/accounts/{paper_account.pk}/reconcile/")
    client.post(f"/trading/accounts/{paper_account.pk}/reconcile/")  # a second click within seconds
    assert asked == [paper_account.pk]
    assert client.post(f"/trading/accounts/{bobs_order.account_id}/reconcile/").status_code == 404


@pytest.mark.parametrize(("quantity", "bought", "bought_value", "sold", "sold_value", "costs", "expected"), [
    (10, 0, 0, 0, 0, 0, 10 * (110 - 100)),  # held since yesterday: the move since the close
    (10, 10, 1_050, 0, 0, 1, 10 * 110 - 1_050 - 1),  # bought today at 105
    (0, 0, 0, 10, 1_080, 2, 1_080 - 10 * 100 - 2),  # sold today at 108 what was held at the open
    (15, 5, 525, 0, 0, 0, 15 * 110 - 10 * 100 - 525),  # held 10, bought 5 more at 105
])
def test_todays_pnl_counts_the_move_since_the_close_and_todays_trades(quantity, bought, bought_value, sold,
                                                                       sold_value, costs, expected):
    today = TodayTrades(D(bought), D(bought_value), D(sold), D(sold_value), D(costs))
    assert day_pnl(quantity=D(quantity), last=D(110), previous_close=D(100), today=today) == expected


def test_todays_pnl_is_unknown_without_the_previous_close_of_a_holding():
    assert day_pnl(quantity=D(10), last=D(110), previous_close=None, today=TodayTrades()) is None
    bought_today = TodayTrades(bought=D(10), bought_value=D(1_000))
    assert day_pnl(quantity=D(10), last=D(110), previous_close=None, today=bought_today) == 100


# -- kill switches --------------------------------------------------------------------------------
def test_pull_and_release_an_accounts_kill_switch_with_a_reason(client, paper_account, alice):
    response = client.post("/trading/kill-switches/", {"action": "pull", "account": paper_account.pk,
                                                       "reason": "too volatile"})
    assert response.status_code == 302
    switch = KillSwitch.objects.get(account=paper_account)
    assert switch.on and switch.reason == "too volatile"
    assert AuditEntry.objects.filter(action="killswitch.pull", actor=alice, reason="too volatile").exists()
    page = client.get("/trading/kill-switches/").content.decode()
    assert "On: trading stopped" in page and "too volatile" in page
    assert 'data-testid="kill-banner"' in client.get("/trading/orders/").content.decode()
    client.post("/trading/kill-switches/", {"action": "release", "account": paper_account.pk, "reason": "calm"})
    switch.refresh_from_db()
    assert not switch.on and AuditEntry.objects.filter(action="killswitch.release", actor=alice).exists()
    assert 'data-testid="kill-banner"' not in client.get("/trading/orders/").content.decode()


def test_pulling_without_a_reason_is_a_form_error(client, paper_account):
    response = client.post("/trading/kill-switches/", {"action": "pull", "account": paper_account.pk, "reason": " "})
    assert response.status_code == 400 and "Say why" in response.content.decode()
    assert not KillSwitch.objects.filter(on=True).exists()


def test_the_switch_for_all_my_accounts_can_cancel_my_open_orders(client, paper_account, alice, no_jobs):
    order = new_order(paper_account, quantity=2, price=71_000)
    client.post("/trading/kill-switches/", {"action": "pull", "reason": "going away", "cancel_open_orders": "on"})
    switch = KillSwitch.objects.get(scope="user", user=alice)
    order.refresh_from_db()
    assert switch.on and switch.cancel_open_orders and order.state == "cancelled"


def test_another_users_account_switch_cannot_be_touched(client, paper_account, bobs_order):
    response = client.post("/trading/kill-switches/", {"action": "pull", "account": bobs_order.account_id,
                                                       "reason": "mischief"})
    assert response.status_code == 400 and not KillSwitch.objects.exists()
    assert 'data-testid="form-error"' in response.content.decode()
    assert client.get("/trading/kill-switches/").content.decode().count('data-testid="switch-state"') == 2


# -- revise (정정) and resolving a mismatch -----------------------------------------------------------
def test_an_open_limit_order_can_be_revised_from_its_page(client, paper_account, no_jobs):
    order = services.order_submit(order_id=new_order(paper_account, quantity=2, price=60_000).pk)
    page = client.get(f"/trading/orders/{order.pk}/").content.decode()
    assert 'data-testid="revise-form"' in page
    off_tick = client.post(f"/trading/orders/{order.pk}/revise/", {"price": "60050"})
    assert off_tick.status_code == 400 and "60,050" in field_errors(off_tick, "price")
    response = client.post(f"/trading/orders/{order.pk}/revise/", {"price": "60100"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.revise_price == 60_100 and order.revise_quantity == 2 and order.revise_requested_at
    assert 'data-testid="revise-form"' not in client.get(f"/trading/orders/{order.pk}/").content.decode()


def test_another_users_order_cannot_be_revised(client, bobs_order):
    assert client.post(f"/trading/orders/{bobs_order.pk}/revise/", {"price": "71200"}).status_code == 404


def test_a_mismatched_position_can_take_the_brokers_figures_with_a_reason(client, paper_account, alice, no_jobs):
    filled_buy(paper_account)
    position = Position.objects.get(account=paper_account)
    Position.objects.filter(pk=position.pk).update(mismatch=True, broker_quantity=12, broker_average_price=71_000)
    no_reason = client.post(f"/trading/positions/{position.pk}/resolve/", {"reason": ""}, follow=True)
    assert "This field is required." in no_reason.content.decode()
    position.refresh_from_db()
    assert position.mismatch
    response = client.post(f"/trading/positions/{position.pk}/resolve/", {"reason": "2 shares moved in"})
    assert response["Location"] == f"/trading/positions/?account={paper_account.pk}"
    position.refresh_from_db()
    assert (position.quantity, position.mismatch) == (12, False)
    assert AuditEntry.objects.filter(action="position.resolve", actor=alice, reason="2 shares moved in").exists()


def test_another_users_position_cannot_be_resolved(client, bobs_order):
    position = Position.objects.create(account=bobs_order.account, symbol="005930", quantity=1, cost=71_300,
                                       mismatch=True, broker_quantity=2)
    assert client.post(f"/trading/positions/{position.pk}/resolve/", {"reason": "mine now"}).status_code == 404
    position.refresh_from_db()
    assert position.mismatch
