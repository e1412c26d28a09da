"""Notification writes. For now: the test event that proves the live channel end to end."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import User
from core import events

EVENT_TEST = "notification.test"


def test_event_request(*, user: User) -> None:
    """Ask the worker to push a test event to the user (page -> Celery -> websocket)."""
    from notifications.tasks import send_test_event

    transaction.on_commit(lambda: send_test_event.delay(user_id=user.pk))


def test_event_push(*, user: User) -> None:
    with translation.override(user.language):
        sent = timezone.localtime(timezone.now(), timezone=_zone(user))
        payload = {
            "title": _("Test notification"),
            "body": _("The live channel works: this came from the worker at %(time)s.")
            % {"time": date_format(sent, "H:i:s")},
        }
    events.publish(user_id=user.pk, event=EVENT_TEST, payload=payload)


def _zone(user: User):
    import zoneinfo

    return zoneinfo.ZoneInfo(user.timezone)
