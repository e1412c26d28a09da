"""Operators' alerts (owner: Telegram delivery helper): the staff Telegram chat and email.

``ops_alert`` tells the operators at once: the staff chat ``OPS_TELEGRAM_CHAT_ID`` through the
Telegram outbox (kind ``staff``, Telegram's pace) and an email to ``OPS_ALERT_EMAILS``, each on
commit. One ``key`` is alerted once per ``DEDUP_SECONDS`` (``cache.add``: every process shares it
in the full stack).

``ops_route`` (registered with ``core.events.route_add`` by ``register()``) turns published events
into operators' alerts: a position mismatch, a deployment halted by an error (not by one of the
user's own rules or an admin), and a broker whose credentials fail for many users within ten
minutes (``OPS_BROKER_FAILING_USERS`` distinct users, default 5). ``queue_backlog_check`` (beat,
every minute) alerts when Celery's queue in Redis holds more than ``OPS_QUEUE_BACKLOG`` tasks.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction

from core.events import Event

logger = logging.getLogger("notifications.ops")

DEDUP_SECONDS = 15 * 60
BROKER_WINDOW_MINUTES = 10
# a deployment halted with one of these codes was stopped by the user's rules or an admin: not an error
RULE_HALT_CODES = frozenset({"admin", "daily_loss", "loss_limit", "drawdown", "max_drawdown", "killswitch",
                             "kill_switch", "user"})
DEFAULT_QUEUE = "celery"


def ops_alert(*, key: str, title: str, body: str = "", link: str = "") -> bool:
    """Tell the operators at once (staff chat + OPS_ALERT_EMAILS); the same ``key`` is sent once per
    quarter hour. Returns whether it was sent (False: a duplicate, or no channel configured)."""
    chat_id = int(getattr(settings, "OPS_TELEGRAM_CHAT_ID", 0) or 0)
    emails = [address for address in getattr(settings, "OPS_ALERT_EMAILS", []) if address]
    if not chat_id and not emails:
        logger.warning("operators' alert with no channel configured: %s", title)
        return False
    if not cache.add(_dedup_key(key), 1, timeout=DEDUP_SECONDS):
        return False
    text = "\n".join(part for part in (f"[{settings.SITE_NAME} ops] {title}", body, _absolute(link)) if part)
    if chat_id:
        from notifications.models.telegram import TelegramMessage
        from notifications.outbox import message_enqueue

        message_enqueue(chat_id=chat_id, text=text, kind=TelegramMessage.Kind.STAFF)
    if emails:
        transaction.on_commit(lambda: _email(title, text, emails))
    logger.warning("operators' alert: %s", title)
    return True


def _dedup_key(key: str) -> str:
    return "ops-alert:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _absolute(link: str) -> str:
    return f"{settings.SITE_URL}{link}" if link.startswith("/") else link


def _email(title: str, text: str, emails: list[str]) -> None:
    try:
        send_mail(subject=f"[{settings.SITE_NAME} ops] {title}"[:200], message=text, from_email=None,
                  recipient_list=emails)
    except Exception:  # noqa: BLE001 - the Telegram half may still arrive; the failure is logged
        logger.exception("operators' alert email failed: %s", title)


# -- published events -> operators' alerts ------------------------------------------------------
def ops_route(event: Event) -> None:
    """A ``core.events`` route: the events operators must hear about."""
    handler = _HANDLERS.get(event.name)
    if handler is not None:
        handler(event)


def _position_mismatch(event: Event) -> None:
    p = event.payload
    ops_alert(key=f"position.mismatch:{p.get('account_id')}:{p.get('symbol')}",
              title=f"Position mismatch: account {p.get('account_id')} {p.get('symbol')} (user {event.user_id})",
              body=str(p.get("note") or ""), link="/admin/trading/position/")


def _deployment_halted(event: Event) -> None:
    p = event.payload
    code = str(p.get("state_code") or "")
    if code in RULE_HALT_CODES:
        return
    ops_alert(key=f"deployment.halted:{p.get('id')}",
              title=f"Deployment {p.get('id')} halted by an error ({code or 'no code'}, user {event.user_id})",
              body=str(p.get("state_reason") or ""), link=f"/admin/trading/deployment/{p.get('id')}/change/")


def _broker_verification_failed(event: Event) -> None:
    broker = str(event.payload.get("broker") or "?")
    failing = broker_failing_users(broker=broker, user_id=event.user_id)
    threshold = int(getattr(settings, "OPS_BROKER_FAILING_USERS", 5))
    if failing >= threshold:
        ops_alert(key=f"broker.failing:{broker}",
                  title=f"Broker {broker}: credentials failing for {failing} users within {BROKER_WINDOW_MINUTES} minutes",
                  body=str(event.payload.get("reason") or ""))


def broker_failing_users(*, broker: str, user_id: int, now: float | None = None) -> int:
    """Count ``user_id`` as failing at ``broker`` and return how many distinct users failed there in the
    last ``BROKER_WINDOW_MINUTES`` (a user counts in the minute of their first failure; atomic adds)."""
    window = BROKER_WINDOW_MINUTES * 60
    minute = int((now if now is not None else time.time()) // 60)
    prefix = f"ops:broker-failing:{broker}"
    if cache.add(f"{prefix}:user:{user_id}", 1, timeout=window):
        bucket = f"{prefix}:minute:{minute}"
        cache.add(bucket, 0, timeout=window + 60)
        try:
            cache.incr(bucket)
        except ValueError:  # expired between add and incr
            cache.add(bucket, 1, timeout=window + 60)
    counts = cache.get_many([f"{prefix}:minute:{m}" for m in range(minute - BROKER_WINDOW_MINUTES + 1, minute + 1)])
    return sum(int(value) for value in counts.values())


_HANDLERS = {
    "position.mismatch": _position_mismatch,
    "deployment.halted": _deployment_halted,
    "broker.verification_failed": _broker_verification_failed,
}


def register() -> None:
    """Add ``ops_route`` to the event routes (``NotificationsConfig.ready``); idempotent."""
    from core.events import route_add

    route_add(ops_route)


# -- the queue ---------------------------------------------------------------------------------
def queue_backlog_check(*, queue: str = DEFAULT_QUEUE) -> int | None:
    """Alert when Celery's queue (Redis broker) holds more than ``OPS_QUEUE_BACKLOG`` tasks; returns
    its length, or None where it cannot be read (the embedded in-memory broker)."""
    url = str(getattr(settings, "CELERY_BROKER_URL", "") or "")
    if not url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        length = int(client.llen(queue))
    except redis.RedisError:
        logger.warning("operators' queue check: the broker could not be read")
        return None
    finally:
        client.close()
    limit = int(getattr(settings, "OPS_QUEUE_BACKLOG", 500))
    if length > limit:
        ops_alert(key=f"queue.backlog:{queue}", title=f"Celery queue '{queue}' backing up: {length} tasks waiting",
                  body=f"More than {limit} tasks are waiting: are the workers running?")
    return length


__all__ = ["DEDUP_SECONDS", "broker_failing_users", "ops_alert", "ops_route", "queue_backlog_check", "register"]
