"""Shared by the coupon tests: the seeded plans (again after a transactional test emptied the tables)
and coupons with sensible terms."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps

from coupons.models import Coupon, CouponKind, Plan


def plans() -> dict[str, Plan]:
    """Free, Pro and Premium as the seed migration writes them (idempotent)."""
    import_module("coupons.migrations.0002_seed_plans").seed(apps, None)
    return {plan.code: plan for plan in Plan.objects.filter(code__in=["free", "pro", "premium"])}


def coupon(code: str = "ABCDEFGH", *, plan: str = "pro", kind: str = CouponKind.TRIAL_DAYS, days: int = 14,
           from_plans: tuple[str, ...] = (), **fields: Any) -> Coupon:
    made = Coupon.objects.create(code=code, kind=kind, plan=Plan.objects.get(code=plan), days=days, **fields)
    if from_plans:
        made.from_plans.set(Plan.objects.filter(code__in=from_plans))
    return made
