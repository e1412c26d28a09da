"""A position that never agrees with the broker again (shares moved in or out, a split) is resolved
by accepting the broker's figures: audited, trading on it allowed again, realised P&L untouched."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.audit import Actor
from core.errors import ApplicationError, NotFound
from core.models import AuditEntry
from trading.orders import positions, reconcile, services
from trading.orders.adjust import position_resolve
from trading.orders.models import Position

from .conftest import KEY, ORDER_PATH, new_order

pytestmark = pytest.mark.django_db
D = Decimal


def mismatched(kis) -> Position:
    reconcile.account_reconcile(account=kis.account)
    shares = kis.fake.book.accounts[KEY].positions["005930"]
    shares[0] -= 3  # moved out at the broker without an order
    assert reconcile.account_reconcile(account=kis.account).mismatches == 1
    return Position.objects.get(account=kis.account, symbol="005930")


def test_the_owner_accepts_the_brokers_figures_and_may_trade_again(kis, no_jobs):
    position = mismatched(kis)
    realized = position.realized_pnl
    with pytest.raises(ApplicationError) as no_reason:
        position_resolve(actor=Actor.of_user(kis.account.owner), position=position, reason=" ")
    assert no_reason.value.field == "reason"
    position = position_resolve(actor=Actor.of_user(kis.account.owner), position=position,
                                reason="7 shares moved to my other account")
    assert (position.quantity, position.mismatch, position.realized_pnl) == (7, False, realized)
    assert not positions.position_has_mismatch(account_id=kis.account.pk, symbol="005930")
    entry = AuditEntry.objects.get(action="position.resolve")
    assert entry.reason == "7 shares moved to my other account" and entry.before["quantity"] == "10"
    reconcile.account_reconcile(account=kis.account)  # the broker agrees now: nothing raised again
    assert not Position.objects.get(pk=position.pk).mismatch


def test_another_user_cannot_and_nothing_is_resolved_while_an_order_is_unresolved(kis, no_jobs, other_user):
    position = mismatched(kis)
    with pytest.raises(NotFound):
        position_resolve(actor=Actor.of_user(other_user), position=position, reason="mine")
    kis.fake.lose_answer_next(ORDER_PATH)
    services.order_submit(order_id=new_order(kis.account, side="sell", quantity=1).pk)
    with pytest.raises(ApplicationError) as error:
        position_resolve(actor=Actor.of_user(kis.account.owner), position=position, reason="moved")
    assert error.value.code == "unresolved_order"
    assert Position.objects.get(pk=position.pk).mismatch


def test_a_position_that_agrees_has_nothing_to_resolve(kis, no_jobs):
    reconcile.account_reconcile(account=kis.account)
    position = Position.objects.get(account=kis.account, symbol="005930")
    with pytest.raises(ApplicationError) as error:
        position_resolve(actor=Actor.of_user(kis.account.owner), position=position, reason="x")
    assert error.value.code == "no_mismatch"
