"""Changing the system settings: staff only, one audit row per change (before → after).

Maintenance mode stops new orders through the global kill switch of the orders ledger, so one rule
stops orders: turning it on pulls the global switch in the same transaction (unless it was already
pulled, for another reason, which then stays), turning it off releases it only when maintenance
pulled it. The default plan is the coupons' ``Plan.is_default`` flag (one truth): changing it here
moves that flag.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext, gettext_lazy as _

from core.audit import Actor, audit_record, changes
from core.errors import ApplicationError, PermissionDenied
from core.models_system import SINGLETON_PK, SystemSettings

SWITCHES = ("maintenance_mode", "signup_open", "invites_open", "live_trading_allowed", "real_money_allowed")
COSTS = ("backtest_commission_pct", "backtest_slippage_bps")
PLACES = {"backtest_commission_pct": Decimal("0.0001"), "backtest_slippage_bps": Decimal("0.01")}
FIELDS = (*SWITCHES, "maintenance_message", *COSTS, "default_plan")

MESSAGE_STAFF = _("Only administrators can change the system settings.")
MESSAGE_UNKNOWN = _("Unknown system setting: %(name)s.")
MESSAGE_COST = _("Enter a number of zero or more.")
MESSAGE_PLAN = _("Choose the plan new users get.")
MAINTENANCE_REASON = _("Maintenance: %(message)s")
MAINTENANCE_ENDED = _("Maintenance ended.")


def _staff_check(actor: Actor) -> None:
    if not (actor.kind == "system" or getattr(actor.user, "is_staff", False)):
        raise PermissionDenied(str(MESSAGE_STAFF), code="system_settings_staff_only")


def _snapshot(row: SystemSettings, plan: Any) -> dict[str, Any]:
    state = {name: getattr(row, name) for name in (*SWITCHES, "maintenance_message")}
    state.update({name: str(Decimal(getattr(row, name)).quantize(PLACES[name])) for name in COSTS})
    state["default_plan"] = getattr(plan, "code", None)
    return state


def _cost(name: str, value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        number = Decimal(-1)
    if not number.is_finite() or number < 0 or number >= 1000:
        raise ApplicationError(str(MESSAGE_COST), field=name, code="system_settings_cost")
    return number.quantize(PLACES[name])


def _maintenance(actor: Actor, row: SystemSettings, was_on: bool) -> None:
    """Pull or release the global kill switch when maintenance turns on or off."""
    from trading.killswitch import kill_switch_pull, kill_switch_release
    from trading.orders.models import KillSwitch, KillSwitchScope

    if row.maintenance_mode and not was_on:
        already = KillSwitch.objects.filter(scope=KillSwitchScope.GLOBAL, on=True).exists()
        if not already:
            reason = MAINTENANCE_REASON % {"message": row.maintenance_message or gettext("maintenance mode")}
            kill_switch_pull(actor=actor, scope=KillSwitchScope.GLOBAL, reason=str(reason))
        row.maintenance_pulled_kill_switch = not already
    elif was_on and not row.maintenance_mode:
        if row.maintenance_pulled_kill_switch:
            kill_switch_release(actor=actor, scope=KillSwitchScope.GLOBAL, reason=str(MAINTENANCE_ENDED))
        row.maintenance_pulled_kill_switch = False


def _default_plan_set(plan: Any) -> None:
    from coupons.models import Plan

    Plan.objects.filter(is_default=True).exclude(pk=plan.pk).update(is_default=False)
    Plan.objects.filter(pk=plan.pk).update(is_default=True)


def system_settings_update(*, actor: Actor, **changes_asked: Any) -> SystemSettings:
    """Apply ``changes_asked`` (names of ``FIELDS``; ``default_plan`` a ``coupons.Plan``); audited as
    ``system_settings.update`` with only what changed. Raises ``PermissionDenied`` (not staff) or
    ``ApplicationError`` (an unknown name, a negative cost, no plan)."""
    from coupons.selectors import default_plan

    _staff_check(actor)
    for name in changes_asked:
        if name not in FIELDS:
            raise ApplicationError(str(MESSAGE_UNKNOWN % {"name": name}), field=name, code="system_settings_unknown")
    with transaction.atomic():
        SystemSettings.objects.get_or_create(pk=SINGLETON_PK)
        row = SystemSettings.objects.select_for_update().get(pk=SINGLETON_PK)
        plan_before = default_plan()
        before, was_on = _snapshot(row, plan_before), row.maintenance_mode
        for name in (*SWITCHES, "maintenance_message"):
            if name in changes_asked:
                value = changes_asked[name]
                setattr(row, name, str(value or "").strip()[:300] if name == "maintenance_message" else bool(value))
        for name in COSTS:
            if name in changes_asked:
                setattr(row, name, _cost(name, changes_asked[name]))
        plan_after = plan_before
        if "default_plan" in changes_asked:
            plan_after = changes_asked["default_plan"]
            if plan_after is None:
                raise ApplicationError(str(MESSAGE_PLAN), field="default_plan", code="system_settings_plan")
            if plan_after.pk != getattr(plan_before, "pk", None):
                _default_plan_set(plan_after)
        _maintenance(actor, row, was_on)
        row.updated_by = actor.user if getattr(actor.user, "pk", None) else None
        row.save()
        old, new = changes(before, _snapshot(row, plan_after))
        if old or new:
            audit_record(actor=actor, action="system_settings.update", owner=None, target=row, before=old, after=new)
    return row


__all__ = ["FIELDS", "system_settings_update"]
