"""Celery tasks of notifications: webhook. Imported by notifications/tasks.py (Celery discovers tasks.py).

Thin doors onto ``notifications.webhook_delivery``: one attempt per task; the sweep queues what is due
(a retry whose countdown was lost, a worker that died mid-attempt once its lease ran out).
"""

from __future__ import annotations

from celery import shared_task

from notifications import webhook_delivery

__all__ = ["webhook_deliver", "webhook_deliver_due", "webhook_prune"]


@shared_task(name="notifications.webhook_deliver", ignore_result=True)
def webhook_deliver(*, delivery_id: int) -> None:
    webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(name="notifications.webhook_deliver_due", ignore_result=True)
def webhook_deliver_due() -> int:
    due = webhook_delivery.deliveries_due()
    for delivery_id in due:
        webhook_deliver.delay(delivery_id=delivery_id)
    return len(due)


@shared_task(name="notifications.webhook_prune", ignore_result=True)
def webhook_prune() -> int:
    return webhook_delivery.deliveries_prune()
