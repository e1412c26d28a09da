"""Routing of published events (owner: centre helper): catalogue kind -> in-app row, Telegram, email,
webhook, by the user's preferences and quiet hours. Registered with ``core.events.route_add``.

``core.events.deliver`` calls ``route`` after the publishing transaction committed; other code may
call ``notification_send`` directly (an announcement sent per user by a task): the same path.
One channel failing is logged and never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core import realtime
from notifications import catalog
from notifications.models import Notification

logger = logging.getLogger(__name__)

EVENT_UNREAD = "notifications.unread"  # pushed to the user's sockets straight, never through events.publish


def route(event: Any) -> None:
    """The route of ``core.events``: keep and deliver ``event`` when the catalogue knows it."""
    if event.name in catalog.RECOVERIES:
        recovered(user_id=event.user_id, event=event.name, payload=event.payload)
        return
    if catalog.kind_for(event.name, event.payload) is None:
        return
    from accounts.models import User

    user = User.objects.filter(pk=event.user_id, is_active=True).first()
    if user is not None:
        notification_send(user=user, event=event.name, payload=event.payload)


# -- a failure told once until it recovers --------------------------------------------------------
REPEAT_SECONDS = 24 * 3600  # a failure still there a day later is told again


def _once_key(user_id: int, kind: catalog.Kind, payload: dict[str, Any]) -> str:
    return f"notifications:once:{user_id}:{kind.key}:{payload.get(kind.once_per)}"


def first_time(*, user_id: int, kind: catalog.Kind, payload: dict[str, Any]) -> bool:
    """False when ``kind`` was already told for this payload's ``once_per`` value and has not recovered."""
    if not kind.once_per:
        return True
    return cache.add(_once_key(user_id, kind, payload), 1, timeout=REPEAT_SECONDS)


def recovered(*, user_id: int, event: str, payload: dict[str, Any]) -> None:
    cache.delete_many([_once_key(user_id, catalog.KINDS[key], payload) for key in catalog.RECOVERIES[event]])


# -- quiet hours (pure) ------------------------------------------------------------------------------
def quiet_until(*, start: dt.time | None, end: dt.time | None, now_local: dt.datetime) -> dt.datetime | None:
    """When the quiet hours around ``now_local`` end (an aware time in its zone), None outside them.

    ``start`` after ``end`` spans midnight (22:00 -> 07:00). Equal or missing bounds mean no quiet hours.
    """
    if start is None or end is None or start == end:
        return None
    moment, day = now_local.timetz().replace(tzinfo=None), now_local.date()
    if start < end:
        if not start <= moment < end:
            return None
        end_day = day
    else:
        if end <= moment < start:
            return None
        end_day = day + dt.timedelta(days=1) if moment >= start else day
    return dt.datetime.combine(end_day, end, tzinfo=now_local.tzinfo)


def user_zone(user: Any) -> dt.tzinfo:
    return catalog._zone(getattr(user, "timezone", None))


def held_until(*, user: Any, message: catalog.Message, now: dt.datetime | None = None) -> dt.datetime | None:
    """The end of ``user``'s quiet hours when ``message`` must wait for it (never for a critical one)."""
    if message.critical:
        return None
    from notifications.centre_selectors import settings_get

    row = settings_get(user=user)
    local = (now or timezone.now()).astimezone(user_zone(user))
    until = quiet_until(start=row.quiet_start, end=row.quiet_end, now_local=local)
    return until.astimezone(dt.UTC) if until else None


# -- delivery ----------------------------------------------------------------------------------------
def notification_send(*, user: Any, event: str, payload: dict[str, Any]) -> Notification | None:
    """Route one event of ``user`` now (the same path as a published event). Returns the Notification or None.

    In-app row (and the live unread count) when the user keeps in-app for the kind; Telegram and email
    by preference, held back to the end of quiet hours unless critical; the webhook for every kept
    kind (the endpoint chooses its kinds). A failing channel is logged; the others still run.
    """
    from notifications.centre_selectors import preference_get

    kind = catalog.kind_for(event, payload)
    if kind is None or not first_time(user_id=user.pk, kind=kind, payload=payload):
        return None
    choice = preference_get(user=user, kind=kind.key)
    shown = payload
    if payload.get("symbol") and "symbol_name" not in payload:  # the message names the instrument
        from marketdata.models import Instrument

        name = Instrument.objects.filter(code=payload["symbol"]).values_list("name", flat=True).first()
        shown = {**payload, "symbol_name": name or ""}
    message = catalog.render_for(user, kind, event, shown)
    notification = None
    if choice.in_app:
        notification = _channel("in-app", _in_app, user, event, payload, message)
    if choice.telegram or choice.email:
        not_before = held_until(user=user, message=message)
        if choice.telegram:
            _channel("telegram", _telegram, user, message, notification, not_before)
        if choice.email:
            _channel("email", _email, user, event, payload, notification, not_before)
    _channel("webhook", _webhook, user, kind, event, payload)
    return notification


def _channel(name: str, deliver: Any, *args: Any) -> Any:
    try:
        with transaction.atomic():  # a savepoint: a failing channel leaves the caller's transaction usable
            return deliver(*args)
    except Exception:  # noqa: BLE001 - one channel failing must not stop the others
        logger.exception("notification channel %s failed", name)
    return None


def _in_app(user: Any, event: str, payload: dict[str, Any], message: catalog.Message) -> Notification:
    notification = Notification.objects.create(
        owner=user, event=event[:64], kind=message.kind.key, level=message.level, title=message.title,
        body=message.body, link=message.link, payload=payload)
    transaction.on_commit(lambda: unread_push(user_id=user.pk, notification=notification))
    return notification


def notification_json(notification: Notification) -> dict[str, Any]:
    """What the bell, the dashboard and the API show of one notification."""
    kind = catalog.KINDS.get(notification.kind)
    return {"id": notification.pk, "kind": notification.kind, "event": notification.event,
            "category": kind.category if kind else "", "level": notification.level, "title": notification.title,
            "body": notification.body, "link": notification.link, "read": notification.is_read,
            "created_at": notification.created_at.isoformat() if notification.created_at else None}


def unread_push(*, user_id: int, notification: Notification | None = None) -> None:
    """Send ``user_id``'s unread count (and the new notification) to their open pages."""
    unread = Notification.objects.filter(owner_id=user_id, read_at__isnull=True).count()
    payload: dict[str, Any] = {"unread": unread}
    if notification is not None:
        payload["notification"] = notification_json(notification)
    try:
        realtime.group_send(realtime.user_group(user_id), {
            "type": "user.event", "event": EVENT_UNREAD, "payload": payload, "sent_at": timezone.now().isoformat()})
    except Exception:  # noqa: BLE001 - a socket push is best effort: the page shows the count anyway
        logger.exception("unread count push failed")


def telegram_text(message: catalog.Message) -> str:
    link = f"{settings.SITE_URL}{message.link}" if message.link.startswith("/") else message.link
    return "\n".join(part for part in (message.title, message.body, link) if part)


def _telegram(user: Any, message: catalog.Message, notification: Notification | None,
              not_before: dt.datetime | None) -> Any:
    from notifications.outbox import alert_enqueue

    return alert_enqueue(user=user, text=telegram_text(message), kind="alert", coalesce_key=message.kind.coalesce_key,
                         notification=notification, not_before=not_before)


def _email(user: Any, event: str, payload: dict[str, Any], notification: Notification | None,
           not_before: dt.datetime | None) -> Any:
    from notifications import emails

    return emails.notification_email(user=user, event=event, payload=payload, notification=notification,
                                     not_before=not_before)


def _webhook(user: Any, kind: catalog.Kind, event: str, payload: dict[str, Any]) -> int:
    from notifications.webhooks import webhook_enqueue

    return webhook_enqueue(user=user, kind=kind.key, event=event, payload=payload)
