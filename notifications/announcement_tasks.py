"""Celery tasks of notifications: announcement. Imported by notifications/tasks.py (Celery discovers tasks.py).

Telling every affected user fans out in chunks: one task lists the users and queues a task per
chunk, each of which publishes the event to its users (``core.events.publish``: the websocket and
the notification centre by each user's preferences).
"""

from __future__ import annotations

from celery import shared_task

from core import events
from notifications import announcement_selectors, announcement_services
from notifications.models import Announcement

__all__ = ["announcement_notify", "announcement_notify_chunk"]

CHUNK = 500


@shared_task(name="notifications.announcement_notify", ignore_result=True)
def announcement_notify(*, announcement_id: int, event: str) -> int:
    """Queue one chunk task per CHUNK affected users; returns how many users."""
    announcement = Announcement.objects.filter(pk=announcement_id).first()
    if announcement is None:
        return 0
    ids = list(announcement_selectors.affected_user_ids(announcement))
    for start in range(0, len(ids), CHUNK):
        announcement_notify_chunk.delay(announcement_id=announcement_id, event=event,
                                        user_ids=ids[start:start + CHUNK])
    return len(ids)


@shared_task(name="notifications.announcement_notify_chunk", ignore_result=True)
def announcement_notify_chunk(*, announcement_id: int, event: str, user_ids: list[int]) -> None:
    announcement = Announcement.objects.filter(pk=announcement_id).first()
    if announcement is None:
        return
    payload = announcement_services.notice_payload(announcement, event)
    for user_id in user_ids:
        events.publish(user_id=user_id, event=event, payload=payload)
