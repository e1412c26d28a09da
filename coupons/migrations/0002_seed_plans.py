"""The three plans: Free (the default: today's global limits, from the BACKTEST_MAX_* settings), Pro, Premium.

Existing rows are left alone (an operator may have edited them in the admin); only missing plans are added.
"""

from django.conf import settings
from django.db import migrations

LIMITS = ("max_strategies", "max_running_deployments", "max_real_deployments", "max_symbols_per_backtest",
          "max_symbols_per_deployment", "max_concurrent_backtests", "max_sweep_cells", "max_backtests_per_day",
          "api_requests_per_minute", "telegram_commands_per_day")


def plans():
    return [
        {"code": "free", "name": "Free", "rank": 0, "is_default": True, "invite_reward_days": 0,
         "description": "Backtests and strategies to start with.",
         "limits": (20, 1, 0, settings.BACKTEST_MAX_SYMBOLS, 10, settings.BACKTEST_MAX_CONCURRENT_RUNS,
                    settings.BACKTEST_MAX_SWEEP_CELLS, 200, 120, 100)},
        {"code": "pro", "name": "Pro", "rank": 10, "is_default": False, "invite_reward_days": 14,
         "description": "More symbols, sweeps and running strategies.",
         "limits": (100, 5, 2, 500, 50, 10, 2000, 1000, 600, 1000)},
        {"code": "premium", "name": "Premium", "rank": 20, "is_default": False, "invite_reward_days": 0,
         "description": "The largest limits.",
         "limits": (500, 20, 10, 2000, 200, 30, 10000, 5000, 1200, 5000)},
    ]


def seed(apps, schema_editor):
    Plan = apps.get_model("coupons", "Plan")
    for spec in plans():
        spec = dict(spec)
        limits = dict(zip(LIMITS, spec.pop("limits")))
        if Plan.objects.filter(code=spec["code"]).exists():
            continue
        if spec["is_default"] and Plan.objects.filter(is_default=True).exists():
            spec["is_default"] = False
        Plan.objects.create(**spec, **limits)


def unseed(apps, schema_editor):
    Plan = apps.get_model("coupons", "Plan")
    Plan.objects.filter(code__in=["free", "pro", "premium"], subscriptions__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("coupons", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
