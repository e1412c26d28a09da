"""Reads of plans and subscriptions; ``plan_limits`` is the one answer to "what may this user do".

Every service that enforces a limit reads it through :func:`plan_limits` (one or two queries) and
words a refusal with :func:`limit_message`, which names the limit, the number and the plan that
lifts it ("Pro allows 500"). No plan row at all (a database without the seed) falls back to the
``BACKTEST_MAX_*`` settings and the seed's other values, so nothing breaks before ``migrate``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from coupons.models import Plan, Subscription, SubscriptionStatus

# the limit fields of Plan, in the order pages show them
LIMIT_FIELDS: tuple[str, ...] = (
    "max_strategies", "max_running_deployments", "max_real_deployments", "max_symbols_per_backtest",
    "max_symbols_per_deployment", "max_concurrent_backtests", "max_sweep_cells", "max_backtests_per_day",
    "api_requests_per_minute", "telegram_commands_per_day",
)

LIMIT_REACHED = _("%(limit)s: your plan %(plan)s allows %(allowed)s.")
LIMIT_LIFTED_BY = _("%(plan)s allows %(allowed)s.")
LIMIT_HIGHEST = _("This is the highest limit of any plan.")


@dataclass(frozen=True)
class Limits:
    """The limits of the plan a user is on now (a plain value: safe to cache for a request)."""

    plan_id: int | None
    plan_code: str
    plan_name: str
    plan_rank: int
    max_strategies: int
    max_running_deployments: int
    max_real_deployments: int
    max_symbols_per_backtest: int
    max_symbols_per_deployment: int
    max_concurrent_backtests: int
    max_sweep_cells: int
    max_backtests_per_day: int
    api_requests_per_minute: int
    telegram_commands_per_day: int

    @classmethod
    def of_plan(cls, plan: Plan) -> Limits:
        return cls(plan_id=plan.pk, plan_code=plan.code, plan_name=plan.name, plan_rank=plan.rank,
                   **{name: getattr(plan, name) for name in LIMIT_FIELDS})

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in LIMIT_FIELDS}


def _fallback_limits() -> Limits:
    """The Free plan's seed values, for a database that has no default plan."""
    return Limits(plan_id=None, plan_code="free", plan_name="Free", plan_rank=0, max_strategies=20,
                  max_running_deployments=1, max_real_deployments=0,
                  max_symbols_per_backtest=settings.BACKTEST_MAX_SYMBOLS, max_symbols_per_deployment=10,
                  max_concurrent_backtests=settings.BACKTEST_MAX_CONCURRENT_RUNS,
                  max_sweep_cells=settings.BACKTEST_MAX_SWEEP_CELLS, max_backtests_per_day=200,
                  api_requests_per_minute=120, telegram_commands_per_day=100)


def limit_label(field: str) -> str:
    """The limit's name as people read it ("symbols per backtest"), from the model's verbose name."""
    return str(Plan._meta.get_field(field).verbose_name)


def default_plan() -> Plan | None:
    return Plan.objects.filter(is_default=True).first()


def subscription_current(*, user: Any) -> Subscription | None:
    """The user's active subscription with its plan (one query), or None (the default plan)."""
    if not getattr(user, "pk", None):
        return None
    return (Subscription.objects.select_related("plan")
            .filter(user=user, status=SubscriptionStatus.ACTIVE).first())


def current_plan(*, user: Any) -> Plan | None:
    """The plan the user is on: the active subscription's, else the default plan."""
    return plan_of(subscription_current(user=user))


def plan_of(subscription: Subscription | None) -> Plan | None:
    """The plan of ``subscription`` (from :func:`subscription_current`, already read), else the default plan."""
    return subscription.plan if subscription is not None else default_plan()


def plan_limits(*, user: Any) -> Limits:
    """The limits that apply to ``user`` now (anonymous: the default plan's)."""
    return limits_of(current_plan(user=user))


def limits_of(plan: Plan | None) -> Limits:
    """The limits of ``plan`` (None: no plan row at all, the seed's values)."""
    return Limits.of_plan(plan) if plan is not None else _fallback_limits()


def plan_list(*, public_only: bool = True) -> QuerySet[Plan]:
    plans = Plan.objects.order_by("rank")
    return plans.filter(is_public=True) if public_only else plans


def plan_lifting(*, field: str, above: int) -> Plan | None:
    """The smallest public plan whose ``field`` is more than ``above`` (None: no plan goes higher)."""
    return plan_list().filter(**{f"{field}__gt": above}).first()


def limit_message(*, limits: Limits, field: str) -> str:
    """"Symbols per backtest: your plan Free allows 200. Pro allows 500." The one wording of a refusal."""
    allowed = getattr(limits, field)
    text = str(LIMIT_REACHED % {"limit": capfirst(limit_label(field)), "plan": limits.plan_name,
                                "allowed": number_format(allowed, force_grouping=True)})
    lifting = plan_lifting(field=field, above=allowed)
    if lifting is None:
        return f"{text} {LIMIT_HIGHEST}"
    more = LIMIT_LIFTED_BY % {"plan": lifting.name,
                              "allowed": number_format(getattr(lifting, field), force_grouping=True)}
    return f"{text} {more}"


def subscription_history(*, user: Any) -> QuerySet[Subscription]:
    """The user's subscriptions, newest first (scheduled ones included)."""
    return Subscription.objects.select_related("plan").filter(user=user).order_by("-starts_at", "-id")


def subscription_scheduled(*, user: Any) -> QuerySet[Subscription]:
    return (Subscription.objects.select_related("plan")
            .filter(user=user, status=SubscriptionStatus.SCHEDULED).order_by("starts_at", "id"))


@dataclass(frozen=True)
class Usage:
    field: str
    label: str
    used: int | None  # None: not counted here (enforced elsewhere: the API and Telegram budgets)
    limit: int

    @property
    def percent(self) -> int:
        if self.used is None or not self.limit:
            return 100 if self.used else 0
        return min(100, round(100 * self.used / self.limit))

    @property
    def over(self) -> bool:
        return self.used is not None and self.used > self.limit


def _today_start() -> dt.datetime:
    local = timezone.localtime()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def backtests_today(*, user: Any) -> int:
    """Backtest runs the user started since midnight (Asia/Seoul)."""
    from backtests.models import BacktestRun

    return BacktestRun.objects.filter(owner=user, created_at__gte=_today_start()).count()


def usage(*, user: Any, limits: Limits | None = None) -> list[Usage]:
    """What the user uses now against each limit of their plan."""
    from backtests.models import ACTIVE_STATUSES, BacktestRun
    from strategies.models import Strategy

    limits = limits or plan_limits(user=user)
    counted: dict[str, int | None] = {
        "max_strategies": Strategy.objects.filter(owner=user).count(),
        "max_running_deployments": deployments_running(user=user),
        "max_real_deployments": deployments_running(user=user, real=True),
        "max_concurrent_backtests": BacktestRun.objects.filter(owner=user, status__in=ACTIVE_STATUSES).count(),
        "max_backtests_per_day": backtests_today(user=user),
    }
    return [Usage(field=name, label=limit_label(name), used=counted.get(name), limit=getattr(limits, name))
            for name in LIMIT_FIELDS]


def deployments_running(*, user: Any, real: bool = False) -> int:
    """Running (or paused: still holding a slot) deployments, live or paper; ``real``: real-money only."""
    from trading.live.selectors import deployments_running as active

    return active(user=user, real=True if real else None).count()


__all__ = [
    "LIMIT_FIELDS", "Limits", "Usage", "backtests_today", "current_plan", "default_plan", "limit_label",
    "limit_message", "limits_of", "plan_limits", "plan_of", "plan_lifting", "plan_list", "subscription_current",
    "subscription_history", "subscription_scheduled", "usage",
]
