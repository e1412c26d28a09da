"""Many orders placed outside the platform at once (a day of HTS orders the ledger never saw): each
adopted once, flagged, with its fill counted once, its timeline and audit rows; the user gets one
event for them all; positions equal the broker's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.models import AuditEntry
from trading.orders import reconcile
from trading.orders.models import Fill, Order, OrderEvent, Position

from .conftest import KEY

pytestmark = pytest.mark.django_db
D = Decimal
MANY = reconcile.EXTERNAL_EACH_UP_TO + 10


def hts_day(fake) -> dict[str, str]:
    """MANY limit buys placed in HTS: every 3rd filled, every 3rd (from the 2nd) half filled, one
    cancelled in HTS; the rest open. Their numbers by what became of them."""
    kinds = {}
    for i in range(MANY):
        order = fake.add_order(KEY, "005930", 2 + 2 * (i % 3), 69_000)
        if i % 3 == 0:
            fake.fill(order.odno, order.quantity, 69_000)
            kinds[order.odno] = "filled"
        elif i % 3 == 1:
            fake.fill(order.odno, order.quantity / 2, 68_900)
            kinds[order.odno] = "partially_filled"
        else:
            kinds[order.odno] = "accepted"
    with fake.lock:
        cancelled = next(o for o in fake.book.accounts[KEY].orders if kinds[o.odno] == "accepted")
        cancelled.cancelled = cancelled.quantity  # withdrawn in HTS: nothing remaining
    kinds[cancelled.odno] = "cancelled"
    return kinds


def test_a_day_of_hts_orders_is_adopted_once_with_its_fills_and_one_event(
        kis, no_jobs, django_capture_on_commit_callbacks, monkeypatch):
    from core import events

    published = []
    monkeypatch.setattr(events, "deliver", published.append)
    kinds = hts_day(kis.fake)

    with django_capture_on_commit_callbacks(execute=True):
        summary = reconcile.account_reconcile(account=kis.account)

    adopted = {o.broker_order_no: o for o in Order.objects.filter(account=kis.account)}
    assert summary.external == MANY == len(adopted) and summary.mismatches == 0
    assert all(o.external and o.source == "external" and o.flag == reconcile.EXTERNAL_FLAG for o in adopted.values())
    assert {number: o.state for number, o in adopted.items()} == kinds
    filled = [o for o in adopted.values() if o.filled_quantity > 0]
    assert summary.fills == len(filled) == Fill.objects.count() == sum(1 for k in kinds.values() if "filled" in k)
    assert all(o.fills.get().quantity == o.filled_quantity for o in filled)
    position = Position.objects.get(account=kis.account, symbol="005930")
    assert (position.quantity, position.mismatch) == (kis.fake.book.accounts[KEY].positions["005930"][0], False)
    assert [e.name for e in published] == ["orders.external"]
    assert published[0].payload["count"] == MANY


def test_every_adopted_order_has_its_timeline_and_audit_rows(kis, no_jobs):
    kinds = hts_day(kis.fake)

    reconcile.account_reconcile(account=kis.account)

    for number, kind in kinds.items():
        order = Order.objects.get(broker_order_no=number)
        steps = list(OrderEvent.objects.filter(order=order).order_by("pk")
                     .values_list("from_state", "to_state", "code"))
        expected = [("", "accepted", "external")]
        if kind in ("filled", "partially_filled"):
            expected.append(("accepted", kind, "fill"))
        if kind == "cancelled":
            expected.append(("accepted", "cancelled", "listing"))
        assert steps == expected
        audit = list(AuditEntry.objects.filter(object_type="trading.order", object_id=str(order.pk))
                     .order_by("pk").values_list("action", "object_repr"))
        assert [action for action, _ in audit] == ["order.adopt_external"] + [f"order.{kind}"] * (len(expected) - 1)
        assert audit[-1][1].endswith(f"({kind})") and audit[0][1].endswith("(accepted)")


def test_a_second_run_adopts_and_counts_nothing_more(kis, no_jobs):
    hts_day(kis.fake)
    reconcile.account_reconcile(account=kis.account)
    counted = (Order.objects.count(), Fill.objects.count(), OrderEvent.objects.count(), AuditEntry.objects.count())

    again = reconcile.account_reconcile(account=kis.account)

    assert (again.external, again.fills, again.moved) == (0, 0, 0)
    assert (Order.objects.count(), Fill.objects.count(), OrderEvent.objects.count(),
            AuditEntry.objects.count()) == counted


def test_a_fill_whose_key_is_already_taken_is_not_counted_again(kis, no_jobs, caplog):
    from core import clock
    from trading.orders import services
    from trading.orders.fills import fill_key

    from .conftest import new_order

    order = services.order_submit(order_id=new_order(kis.account, quantity=3).pk)
    kis.fake.fill(order.broker_order_no, 3, 70_000)
    Fill.objects.create(order=order, account=kis.account, fill_key=fill_key(order.broker_order_no, D(3)),
                        symbol="005930", side="buy", quantity=3, price=70_000, value=210_000, cumulative_quantity=3,
                        filled_at=clock.now())  # counted once already, the order never told

    summary = reconcile.account_reconcile(account=kis.account)

    order.refresh_from_db()
    assert summary.fills == 0 and Fill.objects.filter(order=order).count() == 1 and order.filled_quantity == 0
    assert "applying its rows one by one" in caplog.text
