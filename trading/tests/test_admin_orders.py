"""The operators' console for the order ledger: orders found and filtered (the ones needing
attention first), each with its timeline and nothing editable; reconcile-now and cancel through the
services, audited with the admin as actor; the global, account and user kill switches pulled and
released with a reason; reconciliation status per account; staff without permission only look."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import translation

from accounts.tests.factories import UserFactory
from core import clock
from core.audit import Actor
from core.models import AuditEntry
from trading.brokers.base import OrderAck
from trading.models import BrokerAccount
from trading.orders import services
from trading.orders.fills import FillReport
from trading.orders.models import KillSwitch, Order, Position, Reconciliation
from trading.orders.place import OrderRefused, order_place
from trading.orders.tests.conftest import morning, new_order, no_jobs, paper_account  # noqa: F401 - fixtures
from trading.paper.tests.conftest import samsung, store, write_bar  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
ORDERS = "/admin/trading/order/"
SWITCHES = "/admin/trading/killswitch/"
OPERATE = "/admin/trading/killswitch/operate/"


@pytest.fixture(autouse=True)
def _bars_only_and_english(settings):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""
    settings.ADMIN_REQUIRE_2FA = False
    with translation.override("en"):
        yield


@pytest.fixture
def operator(db):
    return UserFactory(email="ops@example.com", is_staff=True, is_superuser=True, language="en")


@pytest.fixture
def ops(operator) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(operator)
    return client


@pytest.fixture
def clerk(db) -> Client:
    """Staff who may look at orders and kill switches, not act on them."""
    user = UserFactory(email="clerk@example.com", is_staff=True, language="en")
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="trading", codename__in=["view_order", "view_killswitch", "view_brokeraccount"]))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def kis_account(user) -> BrokerAccount:
    return BrokerAccount.objects.create(owner=user, broker="kis", environment="mock", account_no="5012345601",
                                        nickname="KIS 모의", status="verified")


def listed(client: Client, query: dict | None = None) -> set[int]:
    response = client.get(ORDERS, query or {})
    assert response.status_code == 200
    return {order.pk for order in response.context["cl"].result_list}


def set_state(order: Order, **fields) -> Order:
    Order.objects.filter(pk=order.pk).update(**fields)
    order.refresh_from_db()
    return order


@pytest.fixture
def ledger(paper_account, kis_account, no_jobs) -> dict[str, Order]:
    """One order in each situation an operator tells apart."""
    now = clock.now()
    orders = {
        "accepted": new_order(paper_account),
        "unknown": new_order(paper_account, symbol="000660"),
        "stale": new_order(paper_account, symbol="035420"),
        "sending": new_order(paper_account, symbol="035720"),
        "external": new_order(kis_account, symbol="005380"),
        "flagged": new_order(kis_account, symbol="051910"),
        "new": new_order(paper_account, side="sell"),
    }
    set_state(orders["accepted"], state="accepted", broker_order_no="0000123456")
    set_state(orders["unknown"], state="unknown", unknown_since=now)
    set_state(orders["stale"], state="submitting", lease_until=now - dt.timedelta(seconds=5))
    set_state(orders["sending"], state="submitting", lease_until=now + dt.timedelta(seconds=25))
    set_state(orders["external"], state="accepted", external=True, source="external", broker_order_no="0000777",
              flag="placed outside the platform (HTS/MTS)")
    set_state(orders["flagged"], state="accepted", flag="acknowledged after it was settled as not placed")
    return orders


def pks(ledger: dict[str, Order], *names: str) -> set[int]:
    return {ledger[name].pk for name in names}


def test_the_list_opens_on_the_orders_that_need_attention(ops, ledger):
    assert listed(ops) == pks(ledger, "unknown", "stale", "external", "flagged")
    assert listed(ops, {"attention": "all"}) == pks(ledger, *ledger)
    body = ops.get(ORDERS).content.decode()
    for mark in ("unknown", "lease over", "external", "flagged"):
        assert f">{mark}</span>" in body
    assert listed(ops, {"p": "1"}) == pks(ledger, "unknown", "stale", "external", "flagged")  # paging keeps it


def test_orders_filter_by_state_source_external_and_the_accounts_broker(ops, ledger):
    assert listed(ops, {"state__exact": "submitting"}) == pks(ledger, "stale", "sending")
    assert listed(ops, {"source__exact": "external"}) == pks(ledger, "external")
    assert listed(ops, {"external__exact": "0"}) == pks(ledger, *ledger) - pks(ledger, "external")
    assert listed(ops, {"account__broker__exact": "kis"}) == pks(ledger, "external", "flagged")
    assert listed(ops, {"account__broker__exact": "paper", "attention": "needs"}) == pks(ledger, "unknown", "stale")


def test_orders_are_found_by_symbol_broker_number_owner_and_intent(ops, ledger, other_user):
    assert listed(ops, {"q": "000660"}) == pks(ledger, "unknown")
    assert listed(ops, {"q": "123456"}) == pks(ledger, "accepted")  # KIS pads its numbers with zeros
    assert listed(ops, {"q": str(ledger["flagged"].intent_id)}) == pks(ledger, "flagged")
    assert listed(ops, {"q": "alice@example"}) == pks(ledger, *ledger)
    assert listed(ops, {"q": "bob@example.com"}) == set()


def test_the_order_page_shows_its_timeline_and_nothing_to_edit(ops, paper_account, no_jobs):
    order = new_order(paper_account, quantity=3)
    services.order_claim(order_id=order.pk)
    services.order_record_ack(order_id=order.pk, ack=OrderAck(order_no="0000000042"))
    services.order_fill_record(order_id=order.pk, report=FillReport(order_no="0000000042",
                                                                    cumulative_quantity=Decimal(2),
                                                                    price=Decimal(70_000)))
    page = ops.get(f"{ORDERS}{order.pk}/change/")
    body = page.content.decode()
    assert page.status_code == 200 and 'data-testid="order-timeline"' in body
    timeline = body[body.index('data-testid="order-timeline"'):]
    steps = ["∅ → <strong>new</strong>", "new → <strong>submitting</strong>", "submitting → <strong>accepted</strong>",
             "fill: 2 at 70,000", "accepted → <strong>partially_filled</strong>"]
    positions = [timeline.index(step) for step in steps[:3]]
    assert positions == sorted(positions) and all(step in timeline for step in steps)
    assert 'name="state"' not in body and 'name="_save"' not in body
    assert ops.post(f"{ORDERS}{order.pk}/change/", {"state": "filled"}).status_code == 403
    assert Order.objects.get(pk=order.pk).state == "partially_filled"


def test_cancel_goes_through_the_ledger_as_the_admin_for_the_owner(ops, operator, user, ledger, no_jobs,
                                                                    django_capture_on_commit_callbacks):
    chosen = [ledger[name].pk for name in ("accepted", "new", "external")]
    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(f"{ORDERS}?attention=all", {"action": "cancel_orders", "_selected_action": chosen},
                            follow=True)
    states = {name: Order.objects.get(pk=ledger[name].pk).state for name in ("accepted", "new", "external")}
    assert states == {"accepted": "cancel_requested", "new": "cancelled", "external": "accepted"}
    assert no_jobs["cancel"] == [ledger["accepted"].pk]
    entries = AuditEntry.objects.filter(action__in=["order.cancel_requested", "order.cancelled"])
    assert {(e.object_id, e.actor, e.actor_kind, e.door, e.owner) for e in entries} == {
        (str(ledger["accepted"].pk), operator, "admin", "admin", user),
        (str(ledger["new"].pk), operator, "admin", "admin", user)}
    assert "left alone" in response.content.decode()
    assert ledger["accepted"].events.last().actor_label == "admin ops@example.com"


def test_reconcile_now_enqueues_each_account_once_audited(ops, operator, ledger, paper_account, kis_account,
                                                          no_jobs, django_capture_on_commit_callbacks):
    chosen = [ledger[name].pk for name in ("accepted", "unknown", "flagged")]
    with django_capture_on_commit_callbacks(execute=True):
        ops.post(f"{ORDERS}?attention=all", {"action": "reconcile_now", "_selected_action": chosen})
    assert sorted(no_jobs["reconcile"]) == sorted([paper_account.pk, kis_account.pk])
    entries = AuditEntry.objects.filter(action="broker_account.reconcile_request")
    assert {(e.object_id, e.actor, e.actor_kind) for e in entries} == {
        (str(paper_account.pk), operator, "admin"), (str(kis_account.pk), operator, "admin")}


def buy(account: BrokerAccount) -> Order:
    return order_place(actor=Actor.of_user(account.owner), account=account, symbol="005930", side="buy",
                       quantity=Decimal(1), order_type="limit", price=Decimal(71_300))


def test_the_global_kill_switch_stops_and_resumes_trading(ops, operator, paper_account, no_jobs):
    assert "Off: trading runs." in ops.get(SWITCHES).content.decode()
    no_reason = ops.post(f"{OPERATE}?op=pull&scope=global", {"reason": " "})
    assert no_reason.status_code == 200 and no_reason.context["form"].errors["reason"]
    assert not KillSwitch.objects.filter(on=True).exists()

    ops.post(f"{OPERATE}?op=pull&scope=global", {"reason": "exchange outage"})
    with pytest.raises(OrderRefused) as caught:
        buy(paper_account)
    assert caught.value.codes == ["kill_switch_global"]
    assert "ON: no new order is accepted" in ops.get(SWITCHES).content.decode()

    ops.post(f"{OPERATE}?op=release&scope=global", {"reason": "exchange back"})
    assert buy(paper_account).state == "new"
    pull, release = AuditEntry.objects.filter(action__startswith="killswitch.").order_by("pk")
    assert (pull.action, pull.actor, pull.actor_kind, pull.reason) == ("killswitch.pull", operator, "admin",
                                                                       "exchange outage")
    assert (release.action, release.actor, release.reason) == ("killswitch.release", operator, "exchange back")


def test_account_and_user_switches_are_pulled_and_released_there(ops, user, paper_account, no_jobs):
    response = ops.post("/admin/trading/brokeraccount/", {"action": "pull_kill_switch",
                                                          "_selected_action": [paper_account.pk]})
    assert response.status_code == 302 and "scope=account" in response["Location"]
    form = ops.get(response["Location"])
    assert paper_account.nickname in form.content.decode()
    ops.post(response["Location"], {"reason": "owner asked by phone", "cancel_open_orders": "on"})
    ops.post(f"{OPERATE}?op=pull", {"scope": "user", "user_email": "ALICE@example.com", "reason": "margin call"})
    switches = {switch.scope: switch for switch in KillSwitch.objects.all()}
    assert switches["account"].on and switches["account"].cancel_open_orders and switches["user"].on
    listing = ops.get(SWITCHES).content.decode()
    assert "owner asked by phone" in listing and "margin call" in listing

    response = ops.post(SWITCHES, {"action": "release_selected", "_selected_action": [s.pk for s in switches.values()]})
    assert "ids=" in response["Location"]
    ops.post(response["Location"], {"reason": "resolved"})
    assert not KillSwitch.objects.filter(on=True).exists()
    assert AuditEntry.objects.filter(action="killswitch.release", owner=user).count() == 2


def test_an_unknown_target_is_a_form_error(ops):
    response = ops.post(f"{OPERATE}?op=pull", {"scope": "user", "user_email": "nobody@example.com", "reason": "x"})
    assert "No user has this email." in response.content.decode() and not KillSwitch.objects.exists()


def test_staff_without_permission_can_look_but_not_act(clerk, ledger, paper_account, no_jobs):
    page = clerk.get(f"{ORDERS}?attention=all")
    assert page.status_code == 200
    assert "cancel_orders" not in page.content.decode() and "reconcile_now" not in page.content.decode()
    clerk.post(f"{ORDERS}?attention=all", {"action": "cancel_orders", "_selected_action": [ledger["accepted"].pk]})
    assert Order.objects.get(pk=ledger["accepted"].pk).state == "accepted"

    assert clerk.get(SWITCHES).status_code == 200
    assert clerk.get(f"{OPERATE}?op=pull&scope=global").status_code == 403
    assert clerk.post(f"{OPERATE}?op=pull&scope=global", {"reason": "I can"}).status_code == 403
    assert not KillSwitch.objects.exists() and buy(paper_account).state == "new"


def test_staff_without_any_permission_see_no_orders(db, ledger):
    client = Client()
    client.force_login(UserFactory(email="intern@example.com", is_staff=True))
    assert client.get(ORDERS).status_code == 403
    assert client.get(f"{ORDERS}{ledger['accepted'].pk}/change/").status_code == 403


def test_reconciliation_status_per_account(ops, paper_account, kis_account):
    now = clock.now()
    Reconciliation.objects.create(account=paper_account, started_at=now, finished_at=now, orders_listed=12)
    Reconciliation.objects.create(account=kis_account, started_at=now, error="EGW00123 token expired",
                                  error_at=now)
    accounts = ops.get("/admin/trading/brokeraccount/").content.decode()
    assert ">agreed</span>" in accounts and ">failing</span>" in accounts
    assert "5012345601" not in accounts  # the account number stays masked
    failing = ops.get("/admin/trading/reconciliation/", {"status": "failing"})
    assert [row.account_id for row in failing.context["cl"].result_list] == [kis_account.pk]
    assert "EGW00123 token expired" in failing.content.decode()


def test_positions_filter_by_mismatch(ops, paper_account, kis_account):
    Position.objects.create(account=paper_account, symbol="005930", quantity=10)
    Position.objects.create(account=kis_account, symbol="000660", quantity=3, broker_quantity=5, mismatch=True,
                            mismatch_note="broker holds 5, the ledger 3")
    response = ops.get("/admin/trading/position/", {"mismatch__exact": "1"})
    assert [p.symbol for p in response.context["cl"].result_list] == ["000660"]
    assert "differs from the broker" in response.content.decode()


def test_a_mismatched_position_takes_the_brokers_figures_with_a_reason(ops, operator, user, kis_account):
    position = Position.objects.create(account=kis_account, symbol="000660", quantity=3, cost=450_000,
                                       broker_quantity=5, broker_average_price=150_000, mismatch=True,
                                       mismatch_note="broker holds 5, the ledger 3")
    url = "/admin/trading/position/?mismatch__exact=1"
    asked = ops.post(url, {"action": "resolve_mismatch", "_selected_action": [position.pk]})
    assert asked.status_code == 200 and "broker holds 5, the ledger 3" in asked.content.decode()
    position.refresh_from_db()
    assert position.mismatch  # nothing happens before the reason is given

    ops.post(url, {"action": "resolve_mismatch", "_selected_action": [position.pk], "apply": "yes", "reason": " "})
    position.refresh_from_db()
    assert position.mismatch

    ops.post(url, {"action": "resolve_mismatch", "_selected_action": [position.pk], "apply": "yes",
                   "reason": "shares moved in from another account"})
    position.refresh_from_db()
    assert (position.mismatch, position.quantity) == (False, 5)
    entry = AuditEntry.objects.get(action="position.resolve")
    assert (entry.actor, entry.actor_kind, entry.owner, entry.reason) == (
        operator, "admin", user, "shares moved in from another account")
