"""Users' webhooks: the events a user chose, as signed JSON to a URL of theirs.

What a receiver gets (one POST per delivery, retried with back-off until it answers 2xx)::

    body     {"id": <delivery id>, "event": "order.filled", "kind": "order_filled",
              "created_at": "2026-03-17T08:40:00+00:00", "data": {...the event's payload...}}
    headers  X-QuantK-Timestamp: <unix seconds of this attempt>
             X-QuantK-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret>
             X-QuantK-Delivery:  <delivery id> (the same on every retry: use it to ignore repeats)
             User-Agent:         QuantK-Webhook/1

``signature_verify`` is what a receiver runs (and our tests do): it checks the HMAC in constant
time and refuses a timestamp older (or newer) than ``tolerance`` seconds, so a captured request
cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

TIMESTAMP_HEADER = "X-QuantK-Timestamp"
SIGNATURE_HEADER = "X-QuantK-Signature"
DELIVERY_HEADER = "X-QuantK-Delivery"
USER_AGENT = "QuantK-Webhook/1"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE = 300  # seconds

TEST_EVENT, TEST_KIND = "webhook.test", "test"


def _as_bytes(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


def signature_sign(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``f"{timestamp}.{body}"`` keyed by ``secret``."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_verify(secret: str, timestamp: int | str, body: str | bytes, signature: str,
                     tolerance: float = DEFAULT_TOLERANCE, *, now: float | None = None) -> bool:
    """True when ``signature`` is ours for this timestamp and body, and the timestamp is within
    ``tolerance`` seconds of ``now`` (the clock by default). Pass the body exactly as received."""
    try:
        sent = int(str(timestamp).strip())
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    expected = signature_sign(secret, sent, body)
    return hmac.compare_digest(expected.encode(), str(signature or "").strip().encode())


def json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` as plain JSON values (Decimals, dates and UUIDs as Django's encoder writes them)."""
    return json.loads(json.dumps(payload or {}, cls=DjangoJSONEncoder))


def delivery_body(delivery: Any) -> bytes:
    """The JSON body of ``delivery`` (a WebhookDelivery), the same on every attempt."""
    body = {"id": delivery.pk, "event": delivery.event, "kind": delivery.kind,
            "created_at": delivery.created_at.isoformat(), "data": delivery.payload}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder).encode()


def delivery_headers(*, secret: str, delivery_id: int, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    sent = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(sent), SIGNATURE_HEADER: signature_sign(secret, sent, body),
            DELIVERY_HEADER: str(delivery_id), "User-Agent": USER_AGENT}


def deliveries_create(*, endpoints: list[Any], kind: str, event: str, payload: dict[str, Any]) -> list[Any]:
    """One pending delivery per endpoint, each sent by a task once the transaction commits."""
    from notifications.models import WebhookDelivery
    from notifications.webhook_tasks import webhook_deliver

    data = json_safe(payload)
    now = timezone.now()
    with transaction.atomic():
        deliveries = [WebhookDelivery.objects.create(endpoint=endpoint, kind=kind, event=event, payload=data,
                                                     next_attempt_at=now) for endpoint in endpoints]
        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: webhook_deliver.delay(delivery_id=pk))
    return deliveries


def webhook_enqueue(*, user: Any, kind: str, event: str, payload: dict[str, Any]) -> int:
    """Queue a delivery to each active endpoint of ``user`` that chose ``kind``; returns how many."""
    from notifications.models import WebhookEndpoint

    # ``events`` is a JSON list: filtered here (SQLite has no JSON containment lookup); a user has few
    endpoints = [endpoint for endpoint in WebhookEndpoint.objects.filter(owner=user, is_active=True)
                 if kind in (endpoint.events or [])]
    if not endpoints:
        return 0
    return len(deliveries_create(endpoints=endpoints, kind=kind, event=event, payload=payload))
