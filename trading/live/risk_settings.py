"""A user's own risk settings: the spread rules the conflict guard applies over all their deployments.

- ``risk_settings_get(*, user)``: the user's row, or an unsaved empty one (no limits) when they
  never saved any: reading never writes.
- ``risk_settings_update(*, actor, user, **values)``: change some of the four settings (None or
  "" clears one: no limit of that kind); checked (percents above 0 and at most 100 with two
  decimals, a whole number of symbols from 1), audited before → after, and announced to the user
  on commit (``risk_settings.updated``). Raises ``ApplicationError`` naming the field at fault.

The guard reads them as ``trading.risk.SpreadRules.of(row)`` (``trading/risk.py``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core import events
from core.audit import Actor, audit_record, changes
from core.errors import ApplicationError, NotFound
from trading.live.models import RiskSettings
from trading.risk import SpreadRules

FIELDS = SpreadRules.FIELDS  # max_symbol_share, max_sector_share, max_symbols, daily_loss_limit
PERCENT_FIELDS = ("max_symbol_share", "max_sector_share", "daily_loss_limit")
MAX_SYMBOLS = 1000

PERCENT_INVALID = _("Enter a percent above 0 and at most 100 (up to two decimals), or leave it empty for no limit.")
SYMBOLS_INVALID = _("Enter a whole number of symbols from 1 to 1,000, or leave it empty for no limit.")
NOT_EDITABLE = _("These are not risk settings: {names}.")
NOT_YOURS = _("No such risk settings.")


def risk_settings_get(*, user: Any) -> RiskSettings:
    """The user's risk settings; an unsaved row with no limits when they have none yet."""
    found = RiskSettings.objects.filter(user=user).first()
    return found if found is not None else RiskSettings(user=user)


def _percent(field: str, raw: Any) -> Decimal | None:
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not 0 < value <= 100 or value != value.quantize(Decimal("0.01")):
        raise ApplicationError(str(PERCENT_INVALID), field=field, code="risk_setting_invalid")
    return value.quantize(Decimal("0.01"))


def _count(field: str, raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value != value.to_integral_value() or not 1 <= value <= MAX_SYMBOLS:
        raise ApplicationError(str(SYMBOLS_INVALID), field=field, code="risk_setting_invalid")
    return int(value)


def _cleaned(values: dict[str, Any]) -> dict[str, Decimal | int | None]:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ApplicationError(str(NOT_EDITABLE).format(names=", ".join(unknown)), code="not_editable")
    return {field: _count(field, raw) if field == "max_symbols" else _percent(field, raw)
            for field, raw in values.items()}


def _state(row: RiskSettings) -> dict[str, str | int | None]:
    def text(value: Any) -> str | int | None:
        return f"{value.normalize():f}" if isinstance(value, Decimal) else value

    return {field: text(getattr(row, field)) for field in FIELDS}


def risk_settings_update(*, actor: Actor, user: Any, **values: Any) -> RiskSettings:
    """Set the given settings of ``user`` (the others stay); see the module docstring."""
    if actor.kind == "user" and actor.user_id != user.pk:
        raise NotFound(str(NOT_YOURS))
    cleaned = _cleaned(values)
    with transaction.atomic():
        row, _created = RiskSettings.objects.select_for_update().get_or_create(user=user)
        before = _state(row)
        for field, value in cleaned.items():
            setattr(row, field, value)
        row.save()
        old, new = changes(before, _state(row))
        audit_record(actor=actor, action="risk_settings.update", owner=user, target=row, before=old, after=new)
        events.publish(user_id=user.pk, event="risk_settings.updated", payload=_state(row))
    return row


__all__ = ["FIELDS", "risk_settings_get", "risk_settings_update"]
