"""The order ledger's API: placing (idempotent by key, refusals with every failure, 409 until
confirmed), listing, an order's timeline, cancelling, positions with P&L, fills as JSON and CSV,
kill switches; another user's order or account is 404."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from core.audit import Actor
from marketdata.calendars import SEOUL
from trading.killswitch import kill_switch_pull
from trading.models import BrokerAccount
from trading.orders import api, revise, services
from trading.orders import ticket as order_ticket
from trading.orders.fills import FillReport
from trading.orders.models import KillSwitch, Order, Position

from .conftest import later, new_order

pytestmark = pytest.mark.django_db
D = Decimal
ORDERS = "/api/v1/orders/"


@pytest.fixture(autouse=True)
def _bars_only(settings):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""


def ko(message, **params) -> str:
    """A message as the API says it: in Korean, the language of a request that names none."""
    with translation.override("ko"):
        text = translation.gettext(str(message))  # lazy ones and risk's plain templates alike
    return text.format(**params) if params else text


def ticket(on: BrokerAccount, **overrides) -> dict:
    return {"account": on.pk, "symbol": "005930", "side": "buy", "quantity": "10", "order_type": "limit",
            "price": "71300", **overrides}


def place(client: APIClient, account: BrokerAccount, key: str | None = None, **overrides):
    """POST the ticket; an override of None leaves that field out."""
    headers = {"Idempotency-Key": key} if key is not None else {}
    body = {name: value for name, value in ticket(account, **overrides).items() if value is not None}
    return client.post(ORDERS, body, format="json", headers=headers)


def filled(order: Order, quantity: int, price: int) -> Order:
    """``order`` accepted by the broker and filled ``quantity`` at ``price`` (as a listing says)."""
    Order.objects.filter(pk=order.pk).update(state="accepted", broker_order_no=f"P{order.pk}")
    services.order_fill_record(order_id=order.pk, report=FillReport(f"P{order.pk}", D(quantity), price=D(price)))
    return Order.objects.get(pk=order.pk)


# -- placing -------------------------------------------------------------------------------------
def test_an_order_that_passes_is_placed_with_201_and_its_job(api_client, paper_account, no_jobs,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = place(api_client, paper_account)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["state"], body["symbol"], D(body["quantity"]), D(body["price"])) == ("new", "005930", 10, 71_300)
    assert [entry["to_state"] for entry in body["timeline"]] == ["new"]
    assert no_jobs["submit"] == [body["id"]]


def test_the_same_key_and_order_again_answers_the_same_order_with_200(api_client, paper_account, no_jobs):
    first = place(api_client, paper_account, key="phone-1f3a")
    again = place(api_client, paper_account, key="phone-1f3a", confirm=True)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and Order.objects.count() == 1


def test_the_same_key_for_another_user_is_another_order(api_client, paper_account, other_user, no_jobs):
    from trading.paper.tests.conftest import open_paper_account

    bobs = open_paper_account(other_user)
    bob = APIClient()
    bob.force_authenticate(other_user)
    assert place(api_client, paper_account, key="k1").status_code == 201
    assert place(bob, bobs, key="k1").status_code == 201
    assert Order.objects.count() == 2


def test_the_same_key_with_a_different_order_is_refused_as_reused(api_client, paper_account, no_jobs):
    assert place(api_client, paper_account, key="k-42").status_code == 201
    response = place(api_client, paper_account, key="k-42", quantity="11")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "idempotency_key_reused" and error["fields"] == {
        "Idempotency-Key": [ko(api.MESSAGE_KEY_REUSED)]}
    assert Order.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 65, "two words"])
def test_a_key_that_is_not_1_to_64_visible_characters_is_400_on_the_header(api_client, paper_account, no_jobs, key):
    response = place(api_client, paper_account, key=key)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"Idempotency-Key": [ko(api.MESSAGE_KEY_INVALID)]}
    assert Order.objects.count() == 0


def test_an_identical_order_seconds_later_is_409_until_confirmed(api_client, paper_account, no_jobs):
    assert place(api_client, paper_account).status_code == 201
    later(3)
    response = place(api_client, paper_account)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "confirmation_required" and [e["code"] for e in error["errors"]] == ["duplicate_order"]
    assert error["hint"] == ko(api.MESSAGE_CONFIRM) and error["message"] == error["errors"][0]["message"]
    assert place(api_client, paper_account, confirm=True).status_code == 201
    assert Order.objects.count() == 2


def test_a_refusal_lists_every_failed_check_on_its_field(api_client, paper_account, no_jobs):
    response = place(api_client, paper_account, quantity="200", price="71350")  # off the tick, and 14 M > 10 M KRW
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "order_refused"
    codes = {e["code"]: e for e in error["errors"]}
    assert codes.keys() == {"off_tick", "insufficient_cash"}
    assert error["fields"] == {"price": [codes["off_tick"]["message"]],
                               "quantity": [codes["insufficient_cash"]["message"]]}
    assert "71,300" in codes["off_tick"]["message"] and Order.objects.count() == 0


DROP = object()


@pytest.mark.parametrize("overrides, field, message", [
    ({"quantity": "1", "amount": 100_000}, "amount", api.MESSAGE_QUANTITY_OR_AMOUNT),
    ({"quantity": DROP}, "quantity", api.MESSAGE_NO_QUANTITY),
    ({"order_type": "market"}, "price", services.MESSAGE_PRICE),
    ({"price": None}, "price", services.MESSAGE_PRICE),
    ({"side": "short"}, "side", None),
    ({"quantity": "-1"}, "quantity", None),
    ({"account": "abc"}, "account", None),
])
def test_bad_input_is_400_naming_the_field(api_client, paper_account, no_jobs, overrides, field, message):
    body = {k: v for k, v in ticket(paper_account, **overrides).items() if v is not DROP}
    response = api_client.post(ORDERS, body, format="json")
    assert response.status_code == 400, response.json()
    fields = response.json()["error"]["fields"]
    assert field in fields
    if message is not None:
        assert fields[field] == [ko(message)]
    assert Order.objects.count() == 0


def test_an_amount_buys_whole_shares_at_the_limit_price_with_commission(api_client, paper_account, no_jobs):
    response = place(api_client, paper_account, quantity=None, amount=713_000, price="71300")
    assert response.status_code == 201, response.json()
    assert D(response.json()["quantity"]) == 9  # 10 shares are 713,000 KRW, and the commission on top


def test_an_amount_for_a_market_order_uses_the_newest_price(api_client, paper_account, no_jobs):
    response = place(api_client, paper_account, quantity=None, amount=500_000, order_type="market", price=None)
    assert response.status_code == 201, response.json()
    assert D(response.json()["quantity"]) == 7  # at the last close, 71,300


def test_an_amount_below_one_share_is_400_on_the_amount(api_client, paper_account, no_jobs):
    response = place(api_client, paper_account, quantity=None, amount=50_000)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"amount": [ko(order_ticket.MESSAGE_AMOUNT_TOO_SMALL, amount="50,000",
                                                                       symbol="005930", price="71,300")]}


def test_an_order_on_another_users_account_is_404(other_api_client, paper_account, no_jobs):
    response = place(other_api_client, paper_account)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Order.objects.count() == 0


def test_every_endpoint_needs_credentials(anon_api_client, paper_account, no_jobs):
    order = new_order(paper_account)
    for method, url in [("get", ORDERS), ("post", ORDERS), ("get", f"{ORDERS}{order.pk}/"),
                        ("post", f"{ORDERS}{order.pk}/cancel/"), ("get", "/api/v1/positions/"),
                        ("get", "/api/v1/fills/"), ("get", "/api/v1/kill-switches/"),
                        ("post", "/api/v1/kill-switches/")]:
        assert getattr(anon_api_client, method)(url).status_code in (401, 403), url
    assert Order.objects.get(pk=order.pk).state == "new"


# -- reading and cancelling ----------------------------------------------------------------------
def test_the_list_filters_by_account_state_symbol_and_day(api_client, paper_account, kis, no_jobs):
    paper = new_order(paper_account, quantity=1)
    kis_order = new_order(kis.account, quantity=2)
    sold = new_order(kis.account, quantity=1, side="sell", symbol="000660", price=200_000)
    Order.objects.filter(pk=sold.pk).update(state="accepted")

    def ids(**params) -> list[int]:
        response = api_client.get(ORDERS, params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [sold.pk, kis_order.pk, paper.pk]
    assert ids(account=paper_account.pk) == [paper.pk]
    assert ids(state=["accepted", "filled"]) == [sold.pk]
    assert ids(state="new", symbol="005930") == [kis_order.pk, paper.pk]
    day = paper.created_at.astimezone(SEOUL).date()  # the day it was written
    assert ids(date=day.isoformat()) == [sold.pk, kis_order.pk, paper.pk]
    assert ids(date=(day + dt.timedelta(days=1)).isoformat()) == []
    assert api_client.get(ORDERS, {"page_size": 1}).json()["count"] == 3


@pytest.mark.parametrize("url, params, field", [
    (ORDERS, {"state": "lost"}, "state"), (ORDERS, {"date": "yesterday"}, "date"), (ORDERS, {"date": ""}, "date"),
    (ORDERS, {"account": "0"}, "account"), ("/api/v1/positions/", {"account": ""}, "account"),
    ("/api/v1/fills/", {"start": ""}, "start"), ("/api/v1/fills/", {"end": "2026-02-30"}, "end"),
])
def test_a_bad_filter_is_400_naming_it(api_client, url, params, field):
    response = api_client.get(url, params)
    assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_an_order_shows_its_timeline_of_transitions_and_fills(api_client, paper_account, no_jobs):
    order = filled(new_order(paper_account, quantity=3, price=71_300), 2, 71_300)
    body = api_client.get(f"{ORDERS}{order.pk}/").json()
    assert (body["state"], D(body["filled_quantity"]), D(body["remaining_quantity"])) == ("partially_filled", 2, 1)
    assert [(e["kind"], e["to_state"]) for e in body["timeline"]] == [
        ("event", "new"), ("fill", ""), ("event", "partially_filled")]
    assert D(body["timeline"][1]["fill"]["quantity"]) == 2 and D(body["timeline"][1]["fill"]["price"]) == 71_300


def test_another_users_order_is_404_to_read_and_to_cancel(other_api_client, paper_account, no_jobs):
    order = new_order(paper_account)
    assert other_api_client.get(f"{ORDERS}{order.pk}/").status_code == 404
    assert other_api_client.post(f"{ORDERS}{order.pk}/cancel/").status_code == 404
    assert other_api_client.get(ORDERS).json()["results"] == []
    assert Order.objects.get(pk=order.pk).state == "new"


def test_cancelling_answers_202_and_a_final_order_cannot_be(api_client, paper_account, no_jobs,
                                                           django_capture_on_commit_callbacks):
    waiting = new_order(paper_account)
    response = api_client.post(f"{ORDERS}{waiting.pk}/cancel/")
    assert response.status_code == 202 and response.json()["state"] == "cancelled"  # never sent: cancelled at once

    resting = new_order(paper_account, quantity=4)
    Order.objects.filter(pk=resting.pk).update(state="accepted", broker_order_no="P9")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"{ORDERS}{resting.pk}/cancel/")
    assert response.status_code == 202 and response.json()["state"] == "cancel_requested"
    assert no_jobs["cancel"] == [resting.pk]

    done = filled(new_order(paper_account, quantity=1), 1, 71_300)
    response = api_client.post(f"{ORDERS}{done.pk}/cancel/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "order_final"


def test_a_revision_is_asked_with_202_and_refused_on_its_field(api_client, other_api_client, paper_account, no_jobs,
                                                               monkeypatch, django_capture_on_commit_callbacks):
    queued: list[int] = []
    monkeypatch.setattr(revise, "enqueue_revise", queued.append)
    order = new_order(paper_account, quantity=5, price=70_000)
    Order.objects.filter(pk=order.pk).update(state="accepted", broker_order_no="P7")
    url = f"{ORDERS}{order.pk}/revise/"
    assert other_api_client.post(url, {"price": "69900"}, format="json").status_code == 404
    assert api_client.post(url, {"price": "69950"}, format="json").json()["error"]["fields"] == {"price": [
        ko(api.risk.MESSAGES["off_tick"], price="69,950", symbol="005930", tick="100", below="69,900",
           above="70,000")]}
    assert api_client.post(url, {"price": "69900", "quantity": "6"}, format="json").json()["error"]["code"] == (
        "invalid_quantity")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(url, {"price": "69900", "quantity": "2"}, format="json")
    assert response.status_code == 202
    body = response.json()
    assert (D(body["revise_price"]), D(body["revise_quantity"]), body["state"]) == (69_900, 2, "accepted")
    assert body["timeline"][-1]["code"] == "revise_requested" and queued == [order.pk]
    assert api_client.post(url, {"price": "69800"}, format="json").json()["error"]["code"] == "revise_pending"


# -- positions and fills -------------------------------------------------------------------------
def test_positions_show_cost_last_price_and_pnl(api_client, paper_account, no_jobs):
    filled(new_order(paper_account, quantity=10, price=70_000), 10, 70_000)
    filled(new_order(paper_account, quantity=4, side="sell", price=72_000), 4, 72_000)
    [row] = api_client.get("/api/v1/positions/").json()
    assert (row["symbol"], row["name"], D(row["quantity"]), D(row["average_cost"])) == ("005930", "삼성전자", 6, 70_000)
    assert D(row["last_price"]) == D(row["previous_close"]) == 71_300  # the last close, before today
    assert (D(row["market_value"]), D(row["unrealized_pnl"]), D(row["unrealized_pnl_percent"])) == (
        427_800, 7_800, D("1.86"))
    costs = D(row["commission"]) + D(row["tax"])
    assert D(row["realized_pnl"]) == 4 * (72_000 - 70_000) - costs and 0 < costs < 1_000
    # bought 10 at 70,000 and sold 4 at 72,000 today, 6 held at 71,300 now, less today's costs
    assert D(row["today_pnl"]) == (6 * 71_300 - 10 * 70_000 + 4 * 72_000 - costs).quantize(D(1))
    assert row["mismatch"] is False


def test_positions_filter_by_account_and_flag_a_mismatch(api_client, other_api_client, paper_account, kis, no_jobs):
    filled(new_order(paper_account, quantity=1), 1, 71_300)
    Position.objects.create(account=kis.account, symbol="000660", mismatch=True, broker_quantity=D(3),
                            mismatch_note="the broker holds 3, the ledger counts 0")
    rows = api_client.get("/api/v1/positions/", {"account": kis.account.pk}).json()
    assert [(r["symbol"], r["mismatch"], r["last_price"]) for r in rows] == [("000660", True, None)]
    assert len(api_client.get("/api/v1/positions/").json()) == 2
    assert other_api_client.get("/api/v1/positions/").json() == []
    assert other_api_client.get("/api/v1/positions/", {"account": kis.account.pk}).json() == []


def test_a_mismatch_is_resolved_with_a_reason_by_its_owner_only(api_client, other_api_client, paper_account, no_jobs):
    position = Position.objects.create(account=paper_account, symbol="005930", mismatch=True, broker_quantity=D(3),
                                       broker_average_price=D(70_000), mismatch_note="the broker holds 3")
    url = f"/api/v1/positions/{position.pk}/resolve/"
    assert other_api_client.post(url, {"reason": "mine now"}, format="json").status_code == 404
    assert "reason" in api_client.post(url, {}, format="json").json()["error"]["fields"]
    response = api_client.post(url, {"reason": "moved in from another broker"}, format="json")
    assert response.status_code == 200, response.json()
    row = response.json()
    assert (row["mismatch"], D(row["quantity"]), D(row["average_cost"])) == (False, 3, 70_000)
    again = api_client.post(url, {"reason": "again"}, format="json")
    assert again.status_code == 400 and again.json()["error"]["code"] == "no_mismatch"
    assert place(api_client, paper_account).status_code == 201  # tradable again


def test_fills_as_json_and_as_a_csv_file(api_client, other_api_client, paper_account, no_jobs):
    filled(new_order(paper_account, quantity=2), 2, 71_300)
    body = api_client.get("/api/v1/fills/", {"start": "2026-03-04", "end": "2026-03-04"}).json()
    assert body["count"] == 1 and D(body["results"][0]["value"]) == 142_600
    assert api_client.get("/api/v1/fills/", {"start": "2026-03-05"}).json()["count"] == 0
    assert other_api_client.get("/api/v1/fills/").json()["count"] == 0

    for response in (api_client.get("/api/v1/fills/", {"format": "csv"}),
                     api_client.get("/api/v1/fills/", HTTP_ACCEPT="text/csv")):
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"] == 'attachment; filename="fills_first_last.csv"'
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert [(r["symbol"], r["name"], r["side"], r["quantity"], r["price"]) for r in rows] == [
            ("005930", "삼성전자", "buy", "2", "71300")]
        assert rows[0]["filled_at"].startswith("2026-03-04T10:00") and rows[0]["filled_at"].endswith("+09:00")


def test_fills_with_the_end_before_the_start_are_400_even_as_csv(api_client):
    response = api_client.get("/api/v1/fills/", {"start": "2026-03-05", "end": "2026-03-04", "format": "csv"})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert list(response.json()["error"]["fields"]) == ["end"]


# -- kill switches -------------------------------------------------------------------------------
def switch(client: APIClient, **body):
    return client.post("/api/v1/kill-switches/", body, format="json")


def test_an_account_kill_switch_refuses_orders_until_released(api_client, paper_account, no_jobs):
    response = switch(api_client, action="pull", scope="account", account=paper_account.pk, reason="fat finger")
    assert response.status_code == 200 and response.json()["on"] is True
    refused = place(api_client, paper_account)
    assert refused.status_code == 400
    assert [e["code"] for e in refused.json()["error"]["errors"]] == ["kill_switch_account"]

    listed = {(s["scope"], s["account"]): s for s in api_client.get("/api/v1/kill-switches/").json()}
    assert listed[("account", paper_account.pk)]["reason"] == "fat finger"
    assert listed[("user", None)]["on"] is False and listed[("global", None)]["on"] is False

    assert switch(api_client, action="release", scope="account", account=paper_account.pk).json()["on"] is False
    assert place(api_client, paper_account).status_code == 201


def test_pulling_ones_own_switch_can_cancel_open_orders(api_client, paper_account, no_jobs):
    waiting = new_order(paper_account)
    response = switch(api_client, action="pull", scope="user", reason="going away", cancel_open_orders=True)
    assert response.status_code == 200 and response.json()["cancel_open_orders"] is True
    assert Order.objects.get(pk=waiting.pk).state == "cancelled"
    assert [e["code"] for e in place(api_client, paper_account).json()["error"]["errors"]] == ["kill_switch_user"]


@pytest.mark.parametrize("body, field", [
    ({"action": "pull", "scope": "account"}, "account"),
    ({"action": "pull", "scope": "user", "account": 1}, "account"),
    ({"action": "pull", "scope": "global", "reason": "x"}, "scope"),
    ({"action": "explode", "scope": "user"}, "action"),
])
def test_a_bad_switch_request_is_400_naming_the_field(api_client, body, field):
    response = switch(api_client, **body)
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert not KillSwitch.objects.exists()


def test_pulling_needs_a_reason(api_client):
    response = switch(api_client, action="pull", scope="user", reason="  ")
    assert response.status_code == 400 and response.json()["error"]["code"] == "kill_switch_reason"


def test_another_users_account_switch_is_404(other_api_client, paper_account):
    response = switch(other_api_client, action="pull", scope="account", account=paper_account.pk, reason="x")
    assert response.status_code == 404 and not KillSwitch.objects.exists()
    assert [s["scope"] for s in other_api_client.get("/api/v1/kill-switches/").json()] == ["user", "global"]


def test_the_global_switch_is_shown_without_its_reason(api_client, admin_user):
    kill_switch_pull(actor=Actor.of_admin(admin_user), scope="global", reason="exchange outage")
    [platform] = [s for s in api_client.get("/api/v1/kill-switches/").json() if s["scope"] == "global"]
    assert platform["on"] is True and platform["reason"] == ""
