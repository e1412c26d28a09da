"""Writes of coupons by operators: create one, generate a batch with unique codes, deactivate.

Every call is audited with its actor (the admin). Codes are stored canonical (``codes.normalize``).
Redeeming lives in ``coupons.redeem``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from core.audit import Actor, audit_record
from core.errors import ApplicationError
from coupons import codes
from coupons.models import Coupon, CouponKind, Plan

MAX_BATCH = 10_000

CODE_INVALID = _("Use letters A-Z and digits only (spaces and dashes are dropped), at most 32.")
CODE_TAKEN = _("Another coupon already has this code.")
DEFAULT_PLAN = _("Choose a plan other than the default one: everyone has it already.")
WINDOW_BACKWARDS = _("The end of the validity must come after its start.")
BATCH_SIZE = _("Enter a number of coupons from 1 to %(max)s.")
PREFIX_INVALID = _("Use letters and digits of the code alphabet only (no 0, 1, I, L or O), at most 8.")


@dataclass(frozen=True)
class CouponTerms:
    """What a coupon gives and to whom: everything but its code."""

    kind: str
    plan: Plan
    days: int
    campaign: str = ""
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    max_redemptions: int | None = None
    max_per_user: int = 1
    new_users_only: bool = False
    new_user_days: int = 30
    from_plans: tuple[Plan, ...] = field(default_factory=tuple)

    def model_fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "plan": self.plan, "days": self.days, "campaign": self.campaign.strip(),
                "valid_from": self.valid_from, "valid_until": self.valid_until,
                "max_redemptions": self.max_redemptions, "max_per_user": self.max_per_user,
                "new_users_only": self.new_users_only, "new_user_days": self.new_user_days}

    def audit(self) -> dict[str, Any]:
        return {"kind": self.kind, "plan": self.plan.code, "days": self.days, "campaign": self.campaign.strip(),
                "valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None,
                "max_redemptions": self.max_redemptions, "max_per_user": self.max_per_user,
                "new_users_only": self.new_users_only, "new_user_days": self.new_user_days,
                "from_plans": sorted(plan.code for plan in self.from_plans)}


def terms_check(*, plan: Plan | None, valid_from: dt.datetime | None, valid_until: dt.datetime | None) -> None:
    """The rules of any coupon's terms (raises ApplicationError naming the field)."""
    if plan is not None and plan.is_default:
        raise ApplicationError(str(DEFAULT_PLAN), field="plan", code="default_plan")
    if valid_from and valid_until and valid_until <= valid_from:
        raise ApplicationError(str(WINDOW_BACKWARDS), field="valid_until", code="window_backwards")


def code_check(*, code: str, exclude_pk: int | None = None) -> str:
    """The canonical form of an operator's code, refused when invalid or taken (field ``code``)."""
    canonical = codes.normalize(code)
    if not codes.is_canonical(canonical):
        raise ApplicationError(str(CODE_INVALID), field="code", code="code_invalid")
    if Coupon.objects.filter(code=canonical).exclude(pk=exclude_pk).exists():
        raise ApplicationError(str(CODE_TAKEN), field="code", code="code_taken")
    return canonical


def coupon_saved(*, actor: Actor, coupon: Coupon, created: bool, changed: Iterable[str] = (),
                 from_plans: Iterable[Plan] | None = None) -> Coupon:
    """Save ``coupon`` as an operator edited it (the admin's form); audited. The code is canonicalised
    and checked; ``changed`` names the fields the form changed and ``from_plans`` the plans it is
    redeemable from (the form saves that relation right after), both for the audit row."""
    coupon.code = code_check(code=coupon.code, exclude_pk=coupon.pk)
    terms_check(plan=coupon.plan if coupon.plan_id else None, valid_from=coupon.valid_from,
                valid_until=coupon.valid_until)
    with transaction.atomic():
        if created and coupon.created_by_id is None and getattr(actor.user, "pk", None):
            coupon.created_by = actor.user
        names = [name for name in changed if name != "from_plans"]
        stored = None if created else Coupon.objects.select_related("plan").filter(pk=coupon.pk).first()
        before = {name: _plain(getattr(stored, name)) for name in names} if stored else {}
        coupon.save()
        after = {name: _plain(getattr(coupon, name)) for name in names}
        if "from_plans" in changed and from_plans is not None:
            after["from_plans"] = sorted(plan.code for plan in from_plans)
        audit_record(actor=actor, action="coupon.create" if created else "coupon.update", owner=None,
                     target=coupon, before=before, after=after if not created else {"code": coupon.code, **after})
    return coupon


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value)
    return value


def coupon_batch_create(*, actor: Actor, count: int, terms: CouponTerms, prefix: str = "") -> list[Coupon]:
    """``count`` coupons with the same terms and unique readable codes (``ABCD-EFGH``, after ``prefix``).

    A collision with a code written meanwhile is drawn again. Raises ApplicationError for a count out
    of 1..10,000, a bad prefix, or bad terms. One audit row for the batch (its codes listed).
    """
    if not 1 <= count <= MAX_BATCH:
        raise ApplicationError(str(BATCH_SIZE) % {"max": f"{MAX_BATCH:,}"}, field="count", code="batch_size")
    prefix = codes.normalize(prefix)
    if len(prefix) > 8 or any(char not in codes.ALPHABET for char in prefix):
        raise ApplicationError(str(PREFIX_INVALID), field="prefix", code="prefix_invalid")
    terms_check(plan=terms.plan, valid_from=terms.valid_from, valid_until=terms.valid_until)

    def taken(candidates: Iterable[str]) -> set[str]:
        return set(Coupon.objects.filter(code__in=list(candidates)).values_list("code", flat=True))

    creator = actor.user if getattr(actor.user, "pk", None) else None
    for attempt in range(3):
        drawn = codes.generate_unique(count, taken=taken, prefix=prefix)
        try:
            with transaction.atomic():
                coupons = Coupon.objects.bulk_create(
                    [Coupon(code=code, created_by=creator, **terms.model_fields()) for code in drawn])
                if terms.from_plans:
                    through = Coupon.from_plans.through
                    through.objects.bulk_create([through(coupon_id=coupon.pk, plan_id=plan.pk)
                                                 for coupon in coupons for plan in terms.from_plans])
                audit_record(actor=actor, action="coupon.batch_create", owner=None, object_type="coupons.coupon",
                             object_id=terms.campaign.strip()[:64],
                             after={**terms.audit(), "count": count, "codes": drawn})
            return coupons
        except IntegrityError:  # a code written between the check and the insert: draw them all again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def coupon_deactivate(*, actor: Actor, coupons: Iterable[Coupon], reason: str = "") -> int:
    """Turn the given coupons off (they stay listed with their redemptions). Returns how many were on;
    one audit row per coupon turned off."""
    turned = 0
    with transaction.atomic():
        for coupon in Coupon.objects.select_for_update().filter(pk__in=[c.pk for c in coupons], active=True):
            coupon.active = False
            coupon.save(update_fields=["active", "updated_at"])
            audit_record(actor=actor, action="coupon.deactivate", owner=None, target=coupon,
                         before={"active": True}, after={"active": False}, reason=reason)
            turned += 1
    return turned


__all__ = ["CouponKind", "CouponTerms", "coupon_batch_create", "coupon_deactivate", "coupon_saved"]
