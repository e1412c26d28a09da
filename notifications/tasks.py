from celery import shared_task

from accounts.models import User
from notifications import services


@shared_task
def send_test_event(*, user_id: int) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        services.test_event_push(user=user)
