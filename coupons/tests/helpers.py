"""Test helpers: the seeded plans (a transactional test's flush removes the migration's rows) and a
way to raise or lower the Free plan's limits in a test."""

from __future__ import annotations

import importlib

from django.apps import apps

from coupons.models import Plan

_seed = importlib.import_module("coupons.migrations.0002_seed_plans")


def plans_seeded() -> None:
    """Free, Pro and Premium exist (added again after a transactional test flushed them)."""
    _seed.seed(apps, None)


def free_limits(**limits: int) -> Plan:
    """Set limits of the default plan (``max_concurrent_backtests=1``…) for this test."""
    plans_seeded()
    Plan.objects.filter(is_default=True).update(**limits)
    return Plan.objects.get(is_default=True)
