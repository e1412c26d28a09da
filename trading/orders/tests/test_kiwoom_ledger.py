"""A Kiwoom account goes through the same ledger as KIS: sent once, fills from the listing counted
once, cancels and revisions on the same discipline, an order lost on the way settled by the listing
(against the fake Kiwoom's own journal)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import caches

from core import clock
from core.audit import Actor
from trading.fakes.kiwoom import FakeKiwoom
from trading.models import BrokerAccount
from trading.orders import reconcile, revise, services
from trading.orders.models import Fill, Order

from .conftest import new_order

pytestmark = pytest.mark.django_db
D = Decimal
KEY, SECRET = "kiwoom-ledger-key", "kiwoom-ledger-secret"
ORDER_PATH = "/api/dostk/ordr"


@pytest.fixture
def kiwoom(user, morning, settings, monkeypatch, no_jobs):
    monkeypatch.setattr(revise, "enqueue_revise", lambda order_id: None)
    fake = FakeKiwoom(requests_per_second=40)
    fake.add_account(KEY, SECRET, "5012345611")
    fake.set_price("005930", 70_000, name="삼성전자", previous_close=70_000)
    with fake:
        settings.BROKER_KIWOOM_REAL_URL = fake.url
        settings.BROKER_KIWOOM_REAL_REQUESTS_PER_SECOND = 40
        settings.BROKER_HTTP_READ_TIMEOUT = 0.5
        caches["brokers"].clear()
        account = BrokerAccount(owner=user, broker="kiwoom", environment="real", account_no="5012345611",
                                nickname="키움", status="verified")
        account.set_keys(app_key=KEY, app_secret=SECRET)
        account.save()
        yield fake, account
    caches["brokers"].clear()


def journal(fake: FakeKiwoom) -> list:
    """The fake's own orders, cancel rows left out."""
    return [o for o in fake.accounts[KEY].orders if o.kind != "취소"]


def test_an_order_is_sent_once_and_its_fills_are_counted_once(kiwoom):
    fake, account = kiwoom
    order = services.order_submit(order_id=new_order(account, quantity=5).pk)
    assert services.order_submit(order_id=order.pk) is None  # a second delivery sends nothing
    assert order.state == "accepted" and order.broker_order_no
    fake.fill(order.broker_order_no, 2, 70_000)
    reconcile.account_reconcile(account=account)
    reconcile.account_reconcile(account=account)  # the same listing again adds nothing
    order.refresh_from_db()
    assert (order.state, order.filled_quantity) == ("partially_filled", 2)
    assert Fill.objects.filter(order=order).count() == 1
    assert len(journal(fake)) == 1


def test_a_cancel_and_a_revision_reach_kiwoom_once(kiwoom):
    fake, account = kiwoom
    first = services.order_submit(order_id=new_order(account, quantity=3).pk)
    second = services.order_submit(order_id=new_order(account, quantity=4, price=69_000).pk)
    services.order_cancel_request(actor=Actor.of_user(account.owner), order=first)
    assert services.order_cancel_send(order_id=first.pk).state == "cancelled"
    revise.order_revise_request(actor=Actor.of_user(account.owner), order=second, price=D(69_500))
    replacement = revise.order_revise_send(order_id=second.pk)
    assert (replacement.state, replacement.price, replacement.replaces_id) == ("accepted", 69_500, second.pk)
    reconcile.account_reconcile(account=account)
    states = dict(Order.objects.values_list("pk", "state"))
    assert states == {first.pk: "cancelled", second.pk: "cancelled", replacement.pk: "accepted"}
    assert not Order.objects.filter(external=True).exists()


def test_an_order_reset_before_kiwoom_saw_it_is_settled_as_not_placed_never_resent(kiwoom, settings):
    fake, account = kiwoom
    settings.ORDER_NOT_PLACED_AFTER_SECONDS = 0
    fake.fail_next(ORDER_PATH, "reset")
    order = services.order_submit(order_id=new_order(account).pk)
    assert order.state == "unknown"
    for _ in range(3):
        clock.set_to(clock.now() + dt.timedelta(seconds=10))
        reconcile.account_reconcile(account=account)
    order.refresh_from_db()
    assert order.state == "not_placed" and journal(fake) == []
