"""What is read at scrape time (the web's ``/metrics`` only, never a worker's): the order ledger,
reconciliation and Celery's queue depth. A few grouped queries per scrape (every 15 s)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Count, Min, Sum
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger("core.metrics")


class LedgerCollector:
    """Orders by state, unknown orders and the age of the oldest, reconciliation lag, mismatches and
    errors per broker. Every broker and state is listed (0 when none), so an alert's series exist."""

    def collect(self):
        from core import clock
        from trading.models import BrokerKind
        from trading.orders.models import Order, OrderState, Reconciliation
        from trading.orders.states import OPEN, UNRESOLVED

        now = clock.now()
        by_state = dict(Order.objects.order_by().values_list("state").annotate(n=Count("id")))
        orders = GaugeMetricFamily("quantk_orders", "Orders in the ledger, by state.", labels=["state"])
        for state in OrderState.values:
            orders.add_metric([state], by_state.get(state, 0))
        yield orders

        unknown = Order.objects.filter(state=OrderState.UNKNOWN).aggregate(n=Count("id"), oldest=Min("unknown_since"))
        yield GaugeMetricFamily("quantk_orders_unknown", "Orders whose fate at the broker is unknown.",
                                value=unknown["n"])
        age = (now - unknown["oldest"]).total_seconds() if unknown["oldest"] else 0.0
        yield GaugeMetricFamily("quantk_orders_unknown_oldest_age_seconds",
                                "Seconds since the oldest unknown order became unknown (0: none).", value=max(age, 0.0))

        brokers = BrokerKind.values
        # accounts that need reconciling: an order still open or unresolved
        waiting = (Order.objects.filter(state__in=[*OPEN, *UNRESOLVED]).order_by()
                   .values("account_id", "account__broker").annotate(since=Min("submitted_at")))
        finished = dict(Reconciliation.objects.filter(account_id__in=[w["account_id"] for w in waiting])
                        .values_list("account_id", "finished_at"))
        lag = dict.fromkeys(brokers, 0.0)
        for row in waiting:
            last = finished.get(row["account_id"]) or row["since"]  # the trading clock's times, both
            if last is None:
                continue
            broker = row["account__broker"]
            lag[broker] = max(lag.get(broker, 0.0), (now - last).total_seconds())
        family = GaugeMetricFamily("quantk_reconciliation_lag_seconds", "Per broker: the longest time since an "
                                   "account with open or unresolved orders was last reconciled.", labels=["broker"])
        for broker, seconds in lag.items():
            family.add_metric([broker], max(seconds, 0.0))
        yield family

        rows = {r["account__broker"]: r for r in Reconciliation.objects.order_by().values("account__broker")
                .annotate(mismatches=Sum("mismatches"), errors=Count("id", filter=~_empty_error()))}
        mismatches = GaugeMetricFamily("quantk_reconciliation_mismatches", "Per broker: positions that differ "
                                       "from the broker's balance at the last reconciliation.", labels=["broker"])
        errors = GaugeMetricFamily("quantk_reconciliation_errors", "Per broker: accounts whose last "
                                   "reconciliation stopped on a broker error.", labels=["broker"])
        for broker in brokers:
            row = rows.get(broker, {})
            mismatches.add_metric([broker], row.get("mismatches") or 0)
            errors.add_metric([broker], row.get("errors") or 0)
        yield mismatches
        yield errors


def _empty_error():
    from django.db.models import Q

    return Q(error="")


def queue_lengths(queues: list[str]) -> dict[str, int] | None:
    """Tasks waiting per queue: ``LLEN`` on a Redis broker, the queue's size on the embedded
    in-memory broker; None when the broker cannot be read."""
    url = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if url.startswith("memory://"):
        from kombu.transport.memory import Channel

        return {q: (Channel.queues[q].qsize() if q in Channel.queues else 0) for q in queues}
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        return {q: int(client.llen(q)) for q in queues}
    except redis.RedisError:
        logger.warning("metrics: the Celery broker could not be read for the queue depth")
        return None
    finally:
        client.close()


class QueueCollector:
    """``quantk_celery_queue_length{queue}`` at scrape; absent when the broker cannot be read (the
    QueueDepthUnknown alert's ``absent`` then fires)."""

    def collect(self):
        queues = list(getattr(settings, "METRICS_CELERY_QUEUES", None)
                      or [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")])
        lengths = queue_lengths(queues)
        if lengths is None:
            return
        family = GaugeMetricFamily("quantk_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"])
        for queue, length in lengths.items():
            family.add_metric([queue], length)
        yield family
