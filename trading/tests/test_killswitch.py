"""Kill switches: pulled and released with who and why in the audit log, announced to the affected
user, the global one for staff only; a queued order is rejected unsent while one is on, and open
orders are cancelled when the user chose so."""

from __future__ import annotations

import pytest

from core.audit import Actor
from core.errors import ApplicationError, PermissionDenied
from core.models import AuditEntry
from trading import killswitch
from trading.killswitch import kill_switch_pull, kill_switch_release, kill_switches_for
from trading.orders import services
from trading.orders.models import KillSwitch, Order
from trading.orders.tests.conftest import morning, new_order, no_jobs, paper_account  # noqa: F401 - fixtures
from trading.paper.models import PaperOrder
from trading.paper.tests.conftest import samsung, store, write_bar  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _bars_only(settings):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""


@pytest.fixture
def published(monkeypatch) -> list[tuple[int, str, dict]]:
    sent: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(killswitch.events, "publish",
                        lambda *, user_id, event, payload=None: sent.append((user_id, event, payload)))
    return sent


def test_pull_and_release_are_audited_with_who_and_why(paper_account, published):
    alice = Actor.of_user(paper_account.owner)
    switch = kill_switch_pull(actor=alice, scope="account", account=paper_account, reason="  strategy ran wild ")
    assert kill_switches_for(paper_account).account and switch.pulled_by == paper_account.owner
    kill_switch_release(actor=alice, scope="account", account=paper_account, reason="fixed")
    assert not kill_switches_for(paper_account).account
    pull, release = AuditEntry.objects.filter(action__startswith="killswitch.").order_by("pk")
    assert (pull.action, pull.actor, pull.reason, pull.before, pull.after["on"]) == (
        "killswitch.pull", paper_account.owner, "strategy ran wild", {"on": False}, True)
    assert (release.action, release.actor, release.reason, release.after) == (
        "killswitch.release", paper_account.owner, "fixed", {"on": False})
    assert [(user, event) for user, event, _ in published] == [
        (paper_account.owner.pk, "killswitch.pulled"), (paper_account.owner.pk, "killswitch.released")]
    assert KillSwitch.objects.count() == 1  # one row per target, pulled again and again


def test_a_pull_needs_a_reason(paper_account):
    with pytest.raises(ApplicationError) as caught:
        kill_switch_pull(actor=Actor.of_user(paper_account.owner), scope="account", account=paper_account,
                         reason=" ")
    assert caught.value.field == "reason" and not KillSwitch.objects.exists()


def test_the_global_switch_is_for_staff_only(user, admin_user, published):
    with pytest.raises(PermissionDenied) as caught:
        kill_switch_pull(actor=Actor.of_user(user), scope="global", reason="panic")
    assert caught.value.code == "kill_switch_global_staff_only" and not KillSwitch.objects.exists()
    kill_switch_pull(actor=Actor.of_admin(admin_user), scope="global", reason="exchange incident")
    with pytest.raises(PermissionDenied):
        kill_switch_release(actor=Actor.of_user(user), scope="global")
    assert KillSwitch.objects.get().on and published == []  # audited, no per-user fan-out
    entry = AuditEntry.objects.get(action="killswitch.pull")
    assert (entry.actor, entry.owner, entry.reason) == (admin_user, None, "exchange incident")


def test_nobody_pulls_another_users_switch(paper_account, other_user):
    with pytest.raises(PermissionDenied):
        kill_switch_pull(actor=Actor.of_user(other_user), scope="account", account=paper_account, reason="x")
    with pytest.raises(PermissionDenied):
        kill_switch_pull(actor=Actor.of_user(other_user), scope="user", user=paper_account.owner, reason="x")
    assert not KillSwitch.objects.exists()


def test_a_users_switch_covers_every_account_of_theirs_only(paper_account, other_user):
    kill_switch_pull(actor=Actor.of_user(paper_account.owner), scope="user", user=paper_account.owner, reason="away")
    assert kill_switches_for(paper_account).user
    from trading.paper.tests.conftest import open_paper_account

    assert kill_switches_for(open_paper_account(other_user)) == killswitch.risk.KillSwitches()


@pytest.mark.parametrize("scope", ["account", "user", "global"])
def test_a_queued_order_is_rejected_unsent_when_a_switch_is_pulled(paper_account, no_jobs, admin_user, scope):
    order = new_order(paper_account, quantity=1, price=71_300)
    target = {"account": {"account": paper_account}, "user": {"user": paper_account.owner}, "global": {}}[scope]
    kill_switch_pull(actor=Actor.of_admin(admin_user), scope=scope, reason="stop", **target)
    sent = services.order_submit(order_id=order.pk)
    assert (sent.state, sent.reject_code) == ("rejected", f"kill_switch_{scope}") and sent.reject_reason
    assert PaperOrder.objects.count() == 0  # never reached the (paper) broker


def test_after_release_a_queued_order_is_sent(paper_account, no_jobs):
    alice = Actor.of_user(paper_account.owner)
    kill_switch_pull(actor=alice, scope="account", account=paper_account, reason="pause")
    kill_switch_release(actor=alice, scope="account", account=paper_account)
    sent = services.order_submit(order_id=new_order(paper_account, quantity=1, price=71_300).pk)
    assert sent.state == "accepted" and PaperOrder.objects.count() == 1


def test_pulling_with_cancel_asks_to_cancel_the_open_orders(paper_account, no_jobs, django_capture_on_commit_callbacks):
    accepted = services.order_submit(order_id=new_order(paper_account, quantity=1, price=70_000).pk)
    waiting = new_order(paper_account, quantity=2, price=70_000)
    assert accepted.state == "accepted"
    with django_capture_on_commit_callbacks(execute=True):
        kill_switch_pull(actor=Actor.of_user(paper_account.owner), scope="account", account=paper_account,
                         reason="stop everything", cancel_open_orders=True)
    states = dict(Order.objects.values_list("pk", "state"))
    assert states == {accepted.pk: "cancel_requested", waiting.pk: "cancelled"}
    assert no_jobs["cancel"] == [accepted.pk]


def test_pulling_without_cancel_leaves_open_orders(paper_account, no_jobs):
    accepted = services.order_submit(order_id=new_order(paper_account, quantity=1, price=70_000).pk)
    kill_switch_pull(actor=Actor.of_user(paper_account.owner), scope="account", account=paper_account, reason="x")
    accepted.refresh_from_db()
    assert accepted.state == "accepted"


@pytest.mark.django_db(transaction=True)
def test_two_first_pulls_of_one_switch_at_once_both_hold_and_make_one_row(paper_account):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    ready = threading.Barrier(4)

    def pull(n: int) -> bool:
        try:
            ready.wait(timeout=10)
            return kill_switch_pull(actor=Actor.of_user(paper_account.owner), scope="account",
                                    account=paper_account, reason=f"panic {n}").on
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(pull, range(4))) == [True] * 4
    assert KillSwitch.objects.filter(account=paper_account).count() == 1
    assert AuditEntry.objects.filter(action="killswitch.pull").count() == 4
