"""Delivering webhooks: one attempt at a time, retried with back-off, endpoints disabled after
repeated failures (and their owner told).

An attempt claims its delivery first (compare-and-set on ``next_attempt_at``), so the task queued
on commit, a retry's countdown and the beat sweep may all reach one delivery: it is sent once per
due attempt. The HTTP request runs outside any transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core import events
from core.audit import Actor, audit_record
from notifications import webhook_sending as sending
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.webhooks import delivery_body, delivery_headers

logger = logging.getLogger(__name__)

EVENT_DISABLED = "webhook.disabled"
BACKOFF_FIRST_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
LEASE_MARGIN_SECONDS = 60  # an attempt in flight holds its delivery this long past the timeout


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: 30 s, 1 min, 2 min… (at most 1 h)."""
    return dt.timedelta(seconds=min(BACKOFF_FIRST_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


def refusal_message(refused: sending.AddressRefused) -> str:
    """Why the address was refused, for the owner (in the active language)."""
    texts = {
        sending.LOOPBACK: _("Refused: the URL resolves to a loopback address (%(address)s)."),
        sending.PRIVATE: _("Refused: the URL resolves to a private network address (%(address)s)."),
        sending.LINK_LOCAL: _("Refused: the URL resolves to a link-local address (%(address)s)."),
        sending.MULTICAST: _("Refused: the URL resolves to a multicast address (%(address)s)."),
        sending.RESERVED: _("Refused: the URL resolves to a reserved address (%(address)s)."),
        sending.UNSPECIFIED: _("Refused: the URL resolves to an unspecified address (%(address)s)."),
        sending.NOT_GLOBAL: _("Refused: the URL resolves to an address that is not public (%(address)s)."),
        sending.OWN_SERVICE: _("Refused: the URL resolves to one of the platform's own services (%(address)s)."),
        sending.UNRESOLVABLE: _("Refused: the URL's host name cannot be resolved."),
        sending.HTTPS_REQUIRED: _("Refused: webhooks must use HTTPS."),
        sending.BAD_URL: _("Refused: the URL is not a valid http(s) address."),
    }
    return texts.get(refused.code, _("Refused: the address is not allowed.")) % {"address": refused.address}


def service_urls() -> tuple[str, ...]:
    """The platform's own services a webhook may never reach."""
    database = settings.DATABASES["default"]
    database_url = f"postgres://{database.get('HOST')}:{database.get('PORT') or 5432}" if database.get("HOST") else ""
    return tuple(url for url in (database_url, getattr(settings, "REDIS_URL", ""),
                                 getattr(settings, "CELERY_BROKER_URL", ""), getattr(settings, "SITE_URL", ""))
                 if url and "://" in url and not url.startswith("memory://"))


def target_check(url: str) -> sending.Target:
    return sending.target_check(url, https_only=settings.PRODUCTION,
                                allow_hosts=getattr(settings, "WEBHOOK_ALLOW_PRIVATE_HOSTS", []),
                                service_urls=service_urls())


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    lease = dt.timedelta(seconds=getattr(settings, "WEBHOOK_TIMEOUT", 5.0) + LEASE_MARGIN_SECONDS)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return WebhookDelivery.objects.filter(due, pk=delivery_id, state=WebhookDelivery.State.PENDING).update(
        next_attempt_at=now + lease) == 1


def webhook_delivery_attempt(*, delivery_id: int, now: dt.datetime | None = None) -> WebhookDelivery | None:
    """Send ``delivery_id`` once if it is pending and due; the delivery afterwards (None if not claimed).

    2xx: delivered. Another answer or no answer: retried after a back-off until WEBHOOK_MAX_ATTEMPTS.
    A refused address fails it at once. A delivery that ends failed counts towards disabling its endpoint.
    """
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint__owner").get(pk=delivery_id)
    endpoint = delivery.endpoint
    with translation.override(endpoint.owner.language):
        if not endpoint.is_active:
            return _finish(delivery, now=now, state=WebhookDelivery.State.FAILED, status=None,
                           error=_("Not sent: the webhook is disabled."), counts=False)
        attempt = delivery.attempts + 1
        try:
            target = target_check(endpoint.url)
        except sending.AddressRefused as refused:
            return _finish(delivery, now=now, state=WebhookDelivery.State.FAILED, status=None,
                           error=refusal_message(refused), attempts=attempt)
        body = delivery_body(delivery)
        headers = delivery_headers(secret=endpoint.secret(), delivery_id=delivery.pk, body=body)
        try:
            status = sending.post(target, body=body, headers=headers,
                                  timeout=getattr(settings, "WEBHOOK_TIMEOUT", 5.0))
        except sending.SendFailed as failed:
            status, error = None, _("No answer from the URL (%(reason)s).") % {"reason": str(failed)}
        else:
            error = "" if 200 <= status < 300 else _("The URL answered HTTP %(status)s.") % {"status": status}
        if not error:
            return _finish(delivery, now=now, state=WebhookDelivery.State.DELIVERED, status=status, error="",
                           attempts=attempt)
        if attempt >= getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 6):
            return _finish(delivery, now=now, state=WebhookDelivery.State.FAILED, status=status, error=error,
                           attempts=attempt)
        return _retry_later(delivery, now=now, status=status, error=error, attempts=attempt)


def _retry_later(delivery: WebhookDelivery, *, now: dt.datetime, status: int | None, error: str,
                 attempts: int) -> WebhookDelivery:
    from notifications.webhook_tasks import webhook_deliver

    wait = backoff(attempts)
    delivery.attempts, delivery.last_status, delivery.last_error = attempts, status, error[:300]
    delivery.next_attempt_at = now + wait
    delivery.save(update_fields=["attempts", "last_status", "last_error", "next_attempt_at"])
    # the beat sweep (webhook_deliver_due) catches it too if this countdown is lost
    transaction.on_commit(lambda: webhook_deliver.apply_async(kwargs={"delivery_id": delivery.pk},
                                                              countdown=wait.total_seconds()))
    return delivery


@transaction.atomic
def _finish(delivery: WebhookDelivery, *, now: dt.datetime, state: str, status: int | None, error: str,
            attempts: int | None = None, counts: bool = True) -> WebhookDelivery:
    delivery.state, delivery.last_status, delivery.last_error = state, status, error[:300]
    delivery.next_attempt_at = None
    if attempts is not None:
        delivery.attempts = attempts
    if state == WebhookDelivery.State.DELIVERED:
        delivery.delivered_at = now
    delivery.save(update_fields=["state", "last_status", "last_error", "next_attempt_at", "attempts", "delivered_at"])
    endpoints = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    if state == WebhookDelivery.State.DELIVERED:
        endpoints.exclude(consecutive_failures=0).update(consecutive_failures=0)
    elif counts:
        endpoints.update(consecutive_failures=F("consecutive_failures") + 1)
        _disable_if_failing(delivery.endpoint_id, reason=error)
    return delivery


def _disable_if_failing(endpoint_id: int, *, reason: str) -> None:
    limit = getattr(settings, "WEBHOOK_DISABLE_AFTER_FAILURES", 10)
    text = _("Disabled after %(count)s failed deliveries in a row. Last error: %(error)s") % {
        "count": limit, "error": reason}
    disabled = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True, consecutive_failures__gte=limit).update(
        is_active=False, disabled_at=timezone.now(), disabled_reason=text[:300])
    if not disabled:
        return
    endpoint = WebhookEndpoint.objects.select_related("owner").get(pk=endpoint_id)
    audit_record(actor=Actor.system("webhooks"), action="webhook.disabled", owner=endpoint.owner, target=endpoint,
                 after={"is_active": False}, reason=endpoint.disabled_reason)
    events.publish(user_id=endpoint.owner_id, event=EVENT_DISABLED, payload=disabled_payload(endpoint))


def disabled_payload(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"id": endpoint.pk, "url_host": sending.url_host(endpoint.url), "reason": endpoint.disabled_reason,
            "link": reverse("notifications:webhook_detail", args=[endpoint.pk])}


def deliveries_due(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of pending deliveries whose next attempt is due (the beat sweep queues each)."""
    now = now or timezone.now()
    return list(WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def deliveries_prune(*, keep_days: int = 30, now: dt.datetime | None = None) -> int:
    """Delete finished deliveries older than ``keep_days`` (the pages show the latest); how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=keep_days)
    deleted, _per_model = WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
        state=WebhookDelivery.State.PENDING).delete()
    return deleted
