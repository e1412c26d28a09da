"""Celery tasks of notifications. Celery discovers ``tasks.py``: each area's tasks are imported here."""

from celery import shared_task

from accounts.models import User
from notifications import services
from notifications.announcement_tasks import *  # noqa: F401,F403
from notifications.centre_tasks import *  # noqa: F401,F403
from notifications.feedback_tasks import *  # noqa: F401,F403
from notifications.telegram_tasks import *  # noqa: F401,F403
from notifications.webhook_tasks import *  # noqa: F401,F403


@shared_task
def send_test_event(*, user_id: int) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        services.test_event_push(user=user)
