"""The operators' dashboard: what runs, what waits, what is stuck, in one read-only snapshot.

No broker is called: health checks run in parallel with a short time limit each (a slow one shows
as timed out), and everything else is read from the database, the cache and the Celery broker's
queue length. The price feeds keep no heartbeat, so their state is what the connection checks
recorded (``trading.health``: brokers marked limited) and that is said as it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.urls import reverse
from django.utils import timezone

from core import health

HEALTH_TIMEOUT = 2.0  # seconds for all the checks together
WORKER_PING_TIMEOUT = 1.0
BEAT_STALE_AFTER = dt.timedelta(minutes=10)
QUEUE = "celery"
UNKNOWN_LISTED = 50


def check_workers() -> None:
    from celery import current_app as app

    with app.connection_for_write() as connection:
        # limit=1: answer as soon as one worker replies (waiting for all would always take the timeout)
        replies = app.control.ping(timeout=WORKER_PING_TIMEOUT, limit=1, connection=connection)
    if not replies:
        raise RuntimeError(f"no Celery worker answered a ping within {WORKER_PING_TIMEOUT:g} s")


HEALTH_CHECKS = {
    "database": health.check_database,
    "cache": health.check_cache,
    "channel_layer": health.check_channel_layer,
    "workers": check_workers,
}


def health_rows() -> list[health.CheckResult]:
    return health.run_checks(HEALTH_CHECKS, timeout=HEALTH_TIMEOUT)


@dataclass
class Beat:
    last_run_at: dt.datetime | None
    task: str
    stale: bool


def beat_status(*, now: dt.datetime) -> Beat:
    """The last run beat recorded (django_celery_beat's table), stale when older than ``BEAT_STALE_AFTER``."""
    from django_celery_beat.models import PeriodicTask

    last = PeriodicTask.objects.filter(enabled=True, last_run_at__isnull=False).order_by("-last_run_at").first()
    if last is None:
        return Beat(None, "", True)
    return Beat(last.last_run_at, last.name, now - last.last_run_at > BEAT_STALE_AFTER)


def queue_depth() -> int | None:
    """Tasks waiting in Celery's default queue (Redis broker); None where it cannot be read."""
    url = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return int(client.llen(QUEUE))
    except redis.RedisError:
        return None
    finally:
        client.close()


def broker_feeds() -> list[dict[str, Any]]:
    """Brokers the connection checks marked limited (``trading.health``), one row each."""
    from trading import health as trading_health

    rows = []
    for key, record in sorted(trading_health._all().items()):
        broker, _sep, environment = key.partition(":")
        rows.append({"broker": broker, "environment": environment, "record": record})
    return rows


def orders_today(*, now: dt.datetime) -> dict[str, Any]:
    """Today's (Seoul) orders counted by state, and every order still unknown (any day), linked."""
    from trading.orders.models import Order, OrderState

    start = timezone.localtime(now, timezone.get_default_timezone()).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
    counts = dict(Order.objects.filter(created_at__gte=start).values_list("state").annotate(n=Count("id"))
                  .values_list("state", "n"))
    labels = dict(OrderState.choices)
    unknown = list(Order.objects.filter(state=OrderState.UNKNOWN).select_related("owner", "account")
                   .order_by("unknown_since", "pk")[:UNKNOWN_LISTED])
    return {
        "by_state": [(labels.get(state, state), state, count) for state, count in sorted(counts.items())],
        "total": sum(counts.values()),
        "unknown": [{"order": order, "link": reverse("admin:trading_order_change", args=[order.pk])}
                    for order in unknown],
    }


def reconciliation_by_broker() -> list[dict[str, Any]]:
    from trading.orders.models import Position, Reconciliation

    rows = (Reconciliation.objects.values("account__broker")
            .annotate(accounts=Count("id"), last_finished=Max("finished_at"), mismatches=Sum("mismatches"),
                      errors=Count("id", filter=~Q(error="")))
            .order_by("account__broker"))
    positions = dict(Position.objects.filter(mismatch=True).values_list("account__broker")
                     .annotate(n=Count("id")).values_list("account__broker", "n"))
    return [{**row, "broker": row["account__broker"], "positions_mismatched": positions.get(row["account__broker"], 0)}
            for row in rows]


def feedback_urgent(*, now: dt.datetime) -> list[dict[str, Any]]:
    """Open P0/P1 feedback reports, the most urgent first, with their overdue flag."""
    from notifications.models import FeedbackReport

    reports = (FeedbackReport.objects.filter(severity__in=["P0", "P1"])
               .exclude(status__in=[FeedbackReport.Status.RESOLVED, FeedbackReport.Status.CLOSED])
               .select_related("reporter").order_by("severity", "due_at", "pk")[:50])
    return [{"report": report, "overdue": bool(report.due_at and report.due_at < now),
             "link": reverse("admin:notifications_feedbackreport_change", args=[report.pk])} for report in reports]


def kill_switch_global() -> Any:
    from trading.orders.models import KillSwitch, KillSwitchScope

    return KillSwitch.objects.filter(scope=KillSwitchScope.GLOBAL).select_related("pulled_by", "released_by").first()


@dataclass
class Snapshot:
    now: dt.datetime
    health: list[health.CheckResult] = field(default_factory=list)
    beat: Beat | None = None
    queue_depth: int | None = None
    feeds: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, Any] = field(default_factory=dict)
    reconciliation: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    kill_switch: Any = None


def ops_snapshot() -> Snapshot:
    now = timezone.now()
    return Snapshot(now=now, health=health_rows(), beat=beat_status(now=now), queue_depth=queue_depth(),
                    feeds=broker_feeds(), orders=orders_today(now=now), reconciliation=reconciliation_by_broker(),
                    feedback=feedback_urgent(now=now), kill_switch=kill_switch_global())
