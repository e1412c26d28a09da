"""Kill switches: per broker account, per user, and global (staff only).

While a switch is on, no new order of its scope is accepted (``trading.orders.place`` reads
``kill_switches_for``) and no queued order of its scope is sent (``kill_switch_send_check``, a send
check of the ledger registered in ``TradingConfig.ready``: the order ends ``rejected``, unsent).
Orders already at the broker are left to reconciliation, unless the switch was pulled with
``cancel_open_orders``: then every open order of its scope (orders placed outside the platform
excepted: those are never cancelled by us) gets a cancel request through the ledger.

Pulling and releasing are audited (who, why) and announced to the affected user
(``killswitch.pulled`` / ``killswitch.released``); the global switch is only audited (no per-user
fan-out). Who may: the account's owner or the user themself, and staff for any switch; the global
switch only staff (or a system actor, such as an operator's command).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext, gettext_lazy as _

from core import clock, events
from core.audit import Actor, audit_record
from core.errors import ApplicationError, PermissionDenied
from trading import risk
from trading.brokers.base import Refused
from trading.models import BrokerAccount
from trading.orders.models import KillSwitch, KillSwitchScope, Order

MESSAGE_GLOBAL_STAFF = _("Only administrators can pull or release the global kill switch.")
MESSAGE_NOT_YOURS = _("You can only pull or release your own kill switches.")
MESSAGE_REASON = _("Say why the kill switch is pulled.")
MESSAGE_TARGET = _("An account kill switch needs its account, a user kill switch its user, a global one neither.")


def _is_staff(actor: Actor) -> bool:
    return actor.user is None and actor.kind == "system" or bool(getattr(actor.user, "is_staff", False))


def _check(actor: Actor, scope: str, account: BrokerAccount | None, user: Any) -> Any:
    """Validate the target and the actor's right to it; the affected user (None for global)."""
    scope = KillSwitchScope(scope)
    expected = {KillSwitchScope.ACCOUNT: (True, False), KillSwitchScope.USER: (False, True),
                KillSwitchScope.GLOBAL: (False, False)}[scope]
    if (account is not None, user is not None) != expected:
        raise ApplicationError(str(MESSAGE_TARGET), field="scope", code="kill_switch_target")
    if scope == KillSwitchScope.GLOBAL:
        if not _is_staff(actor):
            raise PermissionDenied(str(MESSAGE_GLOBAL_STAFF), code="kill_switch_global_staff_only")
        return None
    affected = account.owner if account is not None else user
    if not _is_staff(actor) and actor.user_id != affected.pk:
        raise PermissionDenied(str(MESSAGE_NOT_YOURS), code="kill_switch_not_yours")
    return affected


def _row(scope: str, account: BrokerAccount | None, user: Any) -> KillSwitch:
    """The switch's row, locked (created off on first use)."""
    switch, _created = KillSwitch.objects.get_or_create(
        scope=scope, account=account, user=user if scope == KillSwitchScope.USER else None)
    return KillSwitch.objects.select_for_update().get(pk=switch.pk)


def _payload(switch: KillSwitch) -> dict[str, Any]:
    return {"scope": switch.scope, "account_id": switch.account_id, "user_id": switch.user_id, "on": switch.on,
            "reason": switch.reason, "cancel_open_orders": switch.cancel_open_orders}


def kill_switch_pull(*, actor: Actor, scope: str, account: BrokerAccount | None = None, user: Any = None,
                     reason: str, cancel_open_orders: bool = False) -> KillSwitch:
    """Turn the switch on (pulling it again updates the reason); audit, announce, and with
    ``cancel_open_orders`` request the cancel of every open order it covers.
    Raises ``ApplicationError`` (no reason, wrong target) or ``PermissionDenied``."""
    affected = _check(actor, scope, account, user)
    if not reason.strip():
        raise ApplicationError(str(MESSAGE_REASON), field="reason", code="kill_switch_reason")
    now = clock.now()
    with transaction.atomic():
        switch = _row(scope, account, user)
        before = {"on": switch.on}
        switch.on, switch.reason, switch.cancel_open_orders = True, reason.strip()[:300], cancel_open_orders
        switch.pulled_by, switch.pulled_at = actor.user if getattr(actor.user, "pk", None) else None, now
        switch.save()
        audit_record(actor=actor, action="killswitch.pull", owner=affected, target=switch, before=before,
                     after={"on": True, "cancel_open_orders": cancel_open_orders}, reason=switch.reason)
        if affected is not None:
            events.publish(user_id=affected.pk, event="killswitch.pulled", payload=_payload(switch))
        if cancel_open_orders:
            _cancel_open_orders(actor, switch)
    return switch


def kill_switch_release(*, actor: Actor, scope: str, account: BrokerAccount | None = None, user: Any = None,
                        reason: str = "") -> KillSwitch:
    """Turn the switch off; audited and announced like a pull. Releasing one that is off changes
    nothing but is still audited (who looked). Raises like ``kill_switch_pull``."""
    affected = _check(actor, scope, account, user)
    now = clock.now()
    with transaction.atomic():
        switch = _row(scope, account, user)
        before = {"on": switch.on}
        switch.on = False
        switch.released_by, switch.released_at = actor.user if getattr(actor.user, "pk", None) else None, now
        switch.save()
        audit_record(actor=actor, action="killswitch.release", owner=affected, target=switch, before=before,
                     after={"on": False}, reason=reason.strip()[:500])
        if affected is not None:
            events.publish(user_id=affected.pk, event="killswitch.released", payload=_payload(switch))
    return switch


def _covered_orders(switch: KillSwitch):
    from trading.orders.states import OPEN, UNRESOLVED

    orders = Order.objects.filter(state__in=OPEN | UNRESOLVED | {"new"}, external=False)
    if switch.scope == KillSwitchScope.ACCOUNT:
        return orders.filter(account_id=switch.account_id)
    if switch.scope == KillSwitchScope.USER:
        return orders.filter(owner_id=switch.user_id)
    return orders


def _cancel_open_orders(actor: Actor, switch: KillSwitch) -> list[int]:
    """Request the cancel of each open order the switch covers (the ledger's cancel discipline:
    ``new`` ones are cancelled unsent, unknown ones wait for reconciliation); the ids asked."""
    from trading.orders import services

    asked = []
    for order in _covered_orders(switch).order_by("pk"):
        try:
            services.order_cancel_request(actor=actor, order=order)
        except ApplicationError:  # became final meanwhile
            continue
        asked.append(order.pk)
    return asked


# -- reads ---------------------------------------------------------------------------------------
def kill_switch_state(*, user: Any) -> dict[str, Any]:
    """For the pages: the switches that concern ``user``: theirs (all accounts), each account's, the global one's
    state (one query). ``on``: the accounts' ids stopped, and whether anything is stopped."""
    rows = KillSwitch.objects.filter(
        Q(scope=KillSwitchScope.USER, user=user) | Q(scope=KillSwitchScope.ACCOUNT, account__owner=user)
        | Q(scope=KillSwitchScope.GLOBAL, on=True)).select_related("account")
    state: dict[str, Any] = {"user": None, "accounts": {}, "global_on": False}
    for row in rows:
        if row.scope == KillSwitchScope.USER:
            state["user"] = row
        elif row.scope == KillSwitchScope.ACCOUNT:
            state["accounts"][row.account_id] = row
        else:
            state["global_on"] = True
    state["user_on"] = bool(state["user"] and state["user"].on)
    state["accounts_on"] = [row.account for row in state["accounts"].values() if row.on]
    state["any_on"] = state["global_on"] or state["user_on"] or bool(state["accounts_on"])
    return state


def kill_switches_for(account: BrokerAccount) -> risk.KillSwitches:
    """Which switches covering ``account`` are on (one query)."""
    scopes = set(KillSwitch.objects.filter(on=True).filter(
        Q(scope=KillSwitchScope.GLOBAL) | Q(scope=KillSwitchScope.ACCOUNT, account_id=account.pk)
        | Q(scope=KillSwitchScope.USER, user_id=account.owner_id)).values_list("scope", flat=True))
    return risk.KillSwitches(account=KillSwitchScope.ACCOUNT in scopes, user=KillSwitchScope.USER in scopes,
                             platform=KillSwitchScope.GLOBAL in scopes)


def kill_switch_send_check(order: Order) -> None:
    """A send check of the ledger: raise ``Refused`` (code ``kill_switch_<scope>``) when a switch
    covering the order is on, so a queued order is rejected unsent."""
    failures = risk.kill_switch_failures(kill_switches_for(order.account))
    if failures:
        raise Refused(failures[0].message_in(gettext), code=failures[0].code)


__all__ = ["kill_switch_pull", "kill_switch_release", "kill_switch_send_check", "kill_switches_for"]
