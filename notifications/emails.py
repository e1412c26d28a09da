"""Email of notifications and the digest (owner: centre helper), through Django's email backend.

Every message is rendered from ``templates/notifications/email/*.txt`` and ``.html`` in the user's
language, with times in the user's time zone, and sent when the current transaction commits.
A non-critical email that arrives in quiet hours waits on its notification row (``EMAIL_DUE`` in
its payload) until the centre's periodic task sends it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notifications import catalog
from notifications.models import Notification

logger = logging.getLogger(__name__)

EMAIL_DUE = "_email_due"  # the payload key of a notification whose email waits for the end of quiet hours


def _absolute(link: str) -> str:
    return f"{settings.SITE_URL}{link}" if link.startswith("/") else link


def _send(*, user: Any, subject: str, template: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    """Render ``template`` (.txt and .html) in ``user``'s language and send it on commit."""
    zone = catalog._zone(getattr(user, "timezone", None))
    with translation.override(user.language or settings.LANGUAGE_CODE), timezone.override(zone):
        context = {"user": user, "site_name": settings.SITE_NAME, "site_url": settings.SITE_URL,
                   "preferences_url": _absolute("/notifications/preferences/"), **context}
        text = render_to_string(f"notifications/email/{template}.txt", context)
        html = render_to_string(f"notifications/email/{template}.html", context)
        subject = f"[{settings.SITE_NAME}] {subject}"
    message = EmailMultiAlternatives(subject=subject.replace("\n", " ")[:200], body=text,
                                     from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email])
    message.attach_alternative(html, "text/html")
    # robust: a mail server that fails is logged, and never undoes or stops what committed before it
    transaction.on_commit(lambda: message.send(fail_silently=False), robust=True)
    return message


def notification_email(*, user: Any, event: str, payload: dict[str, Any], notification: Notification | None = None,
                       not_before: dt.datetime | None = None) -> EmailMultiAlternatives | None:
    """Email ``event`` to ``user`` now, or (``not_before``: quiet hours) mark its notification to be
    emailed then. Without a notification row (in-app turned off) a held email is dropped: there is
    nothing to keep it on, and the user asked for quiet."""
    kind = catalog.kind_for(event, payload)
    if kind is None or not user.email:
        return None
    if not_before is not None:
        if notification is None:
            logger.info("user %s: %s email dropped in quiet hours (in-app is off)", user.pk, kind.key)
            return None
        notification.payload = {**notification.payload, EMAIL_DUE: not_before.isoformat()}
        notification.save(update_fields=["payload"])
        return None
    message = catalog.render_for(user, kind, event, payload)
    return _send(user=user, subject=message.title, template="notification",
                 context={"message": message, "link": _absolute(message.link)})


def held_emails_send(*, now: dt.datetime | None = None) -> int:
    """Send the emails held for quiet hours that are due; how many."""
    now = now or timezone.now()
    sent = 0
    for row in Notification.objects.filter(payload__has_key=EMAIL_DUE).select_related("owner"):
        try:
            due = dt.datetime.fromisoformat(row.payload[EMAIL_DUE])
        except (TypeError, ValueError):
            due = now
        if due > now:
            continue
        with transaction.atomic():
            payload = {k: v for k, v in row.payload.items() if k != EMAIL_DUE}
            if not Notification.objects.filter(pk=row.pk, payload__has_key=EMAIL_DUE).update(payload=payload):
                continue  # another worker took it
            if row.owner.is_active:
                notification_email(user=row.owner, event=row.event, payload=payload)
                sent += 1
    return sent


def digest_email(*, user: Any, notifications: list[Notification], day: dt.date) -> EmailMultiAlternatives:
    """The daily digest: ``notifications`` of ``day`` (the user's local day), newest first."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = _("Your notifications of %(day)s") % {"day": day.isoformat()}
    rows = [{"title": n.title, "body": n.body, "link": _absolute(n.link), "created_at": n.created_at,
             "level": n.level} for n in notifications]
    return _send(user=user, subject=subject, template="digest",
                 context={"rows": rows, "day": day, "count": len(rows),
                          "centre_url": _absolute("/notifications/")})
