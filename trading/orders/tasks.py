"""Celery jobs of the order ledger: thin doors that load by id and call a service.

Delivery is at least once (``acks_late``; Redis redelivers an unacknowledged job after its
visibility timeout), so every job is safe to run twice: the submit job claims its order by
compare-and-set, the cancel job claims its cancel the same way, reconciliation is idempotent.

No job here is scheduled further ahead than ``MAX_COUNTDOWN_SECONDS``: with Redis, a countdown or
ETA longer than the transport's visibility timeout (one hour by default) is delivered again and
again while it waits.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.core.cache import cache

from core import clock
from marketdata.calendars import SEOUL
from trading.models import BrokerAccount
from trading.orders import reconcile, revise, services
from trading.orders.states import OPEN, UNRESOLVED

logger = logging.getLogger("trading.orders")

MAX_COUNTDOWN_SECONDS = 60.0
RELAY_EVERY = 30  # seconds before the relay enqueues the same waiting order again
# a submit job's hard limit: its lease (30 s) and the retries fit; the soft limit stops a stuck send
# as an unknown outcome (it may have been sent) before the worker is killed
SUBMIT_SOFT_LIMIT, SUBMIT_HARD_LIMIT = 60, 90


def follow_up_seconds() -> float:
    """When a reconciliation looks again at an order still unknown (never past the cap)."""
    return min(services.setting("ORDER_RECONCILE_FOLLOW_UP_SECONDS", 5.0), MAX_COUNTDOWN_SECONDS)


@shared_task(name="trading.orders.submit", acks_late=True, soft_time_limit=SUBMIT_SOFT_LIMIT,
             time_limit=SUBMIT_HARD_LIMIT)
def order_submit(order_id: int) -> str | None:
    """Send one order at most once (a second delivery finds it claimed and does nothing)."""
    order = services.order_submit(order_id=order_id)
    return None if order is None else order.state


@shared_task(name="trading.orders.cancel", acks_late=True, soft_time_limit=SUBMIT_SOFT_LIMIT,
             time_limit=SUBMIT_HARD_LIMIT)
def order_cancel(order_id: int) -> str | None:
    order = services.order_cancel_send(order_id=order_id)
    return None if order is None else order.state


@shared_task(name="trading.orders.revise", acks_late=True, soft_time_limit=SUBMIT_SOFT_LIMIT,
             time_limit=SUBMIT_HARD_LIMIT)
def order_revise(order_id: int) -> str | None:
    """Send one revision at most once (claimed by compare-and-set like orders and cancels)."""
    order = revise.order_revise_send(order_id=order_id)
    return None if order is None else order.state


@shared_task(name="trading.orders.relay")
def orders_relay() -> dict[str, int]:
    """Enqueue what a lost message left waiting: orders still ``new``, cancels and revisions not sent after a
    few seconds (beat: every few seconds). A duplicate enqueue is harmless (compare-and-set)."""
    waiting = services.orders_waiting()
    # a backed-up queue keeps orders "new" for a while: enqueue each again at most every RELAY_EVERY
    waiting = {kind: [i for i in ids if cache.add(f"orders:relayed:{kind}:{i}", 1, timeout=RELAY_EVERY)]
               for kind, ids in waiting.items()}
    for order_id in waiting["submit"]:
        services.enqueue_submit(order_id)
    for order_id in waiting["cancel"]:
        services.enqueue_cancel(order_id)
    for order_id in waiting["revise"]:
        revise.enqueue_revise(order_id)
    if any(waiting.values()):
        logger.warning("relay: %d orders, %d cancels and %d revisions enqueued again", len(waiting["submit"]),
                       len(waiting["cancel"]), len(waiting["revise"]))
    return {key: len(ids) for key, ids in waiting.items()}


@shared_task(name="trading.orders.reconcile_account", acks_late=True)
def orders_reconcile_account(account_id: int) -> dict[str, Any] | None:
    """Reconcile one account; while it still has unknown orders, look again in a few seconds
    (one follow-up at a time per account)."""
    account = BrokerAccount.objects.filter(pk=account_id).first()
    if account is None:
        return None
    summary = reconcile.account_reconcile(account=account)
    still = account.orders.filter(state__in=UNRESOLVED).exists()
    wait = follow_up_seconds()
    if still and cache.add(f"orders:reconcile-follow-up:{account_id}", 1, timeout=wait):
        orders_reconcile_account.apply_async((account_id,), countdown=wait)
    return summary.as_dict()


def accounts_due(*, every_account: bool = False) -> list[int]:
    """Accounts with orders open or unresolved; with ``every_account``, also those holding
    positions or trading today (the pass after the close)."""
    due = set(BrokerAccount.objects.filter(orders__state__in=OPEN | UNRESOLVED).values_list("pk", flat=True))
    if every_account:
        today = clock.now().astimezone(SEOUL).date()
        due |= set(BrokerAccount.objects.filter(positions__quantity__gt=0).values_list("pk", flat=True))
        due |= set(BrokerAccount.objects.filter(orders__order_day=today).values_list("pk", flat=True))
    return sorted(due)


@shared_task(name="trading.orders.reconcile_due")
def orders_reconcile_due(*, every_account: bool = False) -> int:
    """Enqueue a reconciliation per account that needs one (beat: every 30 s in the trading day,
    and once after the close with ``every_account``). Not tied to the KRX calendar: an order of a
    paper crypto account, or one still unknown, is settled on any day."""
    accounts = accounts_due(every_account=every_account)
    for account_id in accounts:
        orders_reconcile_account.delay(account_id)
    return len(accounts)
