"""Celery tasks of notifications: telegram. Imported by notifications/tasks.py (Celery discovers tasks.py).

Thin doors: the work is in ``notifications.telegram_delivery`` and ``notifications.ops``.
Beat entries (config/settings.py ``CELERY_BEAT_SCHEDULE``): ``telegram_flush_due`` every 10 s,
``ops_check_queues`` every minute.
"""

from celery import shared_task

from notifications import ops, telegram_delivery

# a flush runs at most MAX_RUN_SECONDS, then enqueues itself again; the limits leave room for one send
FLUSH_SOFT_LIMIT = 120
FLUSH_HARD_LIMIT = 150


@shared_task(name="notifications.telegram_flush_chat", ignore_result=True, soft_time_limit=FLUSH_SOFT_LIMIT,
             time_limit=FLUSH_HARD_LIMIT)
def telegram_flush_chat(chat_id: int) -> None:
    """Send the chat's due outbox messages at Telegram's pace (returns at once if another worker holds the chat)."""
    telegram_delivery.chat_flush(chat_id=int(chat_id))


@shared_task(name="notifications.telegram_flush_due", ignore_result=True)
def telegram_flush_due() -> None:
    """Beat, every 10 s: flush every chat with due messages (lost enqueues, ends of quiet hours and back-offs)."""
    telegram_delivery.due_sweep()


@shared_task(name="notifications.ops_check_queues", ignore_result=True)
def ops_check_queues() -> None:
    """Beat, every minute: the operators hear when Celery's queue backs up."""
    ops.queue_backlog_check()


__all__ = ["ops_check_queues", "telegram_flush_chat", "telegram_flush_due"]
