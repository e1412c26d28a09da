"""Notifications for the centre's tests."""

from notifications.models import Notification


def notification(owner, *, kind="order_filled", title="Order filled: 005930", read=False, **fields):
    from django.utils import timezone

    return Notification.objects.create(owner=owner, kind=kind, event=fields.pop("event", "order.filled"), title=title,
                                       read_at=timezone.now() if read else None, **fields)
