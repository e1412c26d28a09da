"""Writes of users' webhooks: create, choose events, rotate the secret, enable again, delete, send a test.

Every action is audited (never with the secret). The secret is returned only by ``webhook_create``
and ``webhook_secret_rotate``, for the door to show once; it is stored encrypted.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.audit import Actor, audit_record
from core.errors import ApplicationError
from notifications import webhook_sending as sending
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.webhooks import TEST_EVENT, TEST_KIND, deliveries_create

MAX_ENDPOINTS = 10

URL_INVALID = _("Enter a valid http:// or https:// URL without a user name or password.")
URL_HTTPS_REQUIRED = _("Webhook URLs must use HTTPS.")
URL_PRIVATE = _("This address is private or local: webhooks are only sent to public addresses.")
URL_TOO_LONG = _("The URL is too long (at most 500 characters).")
EVENTS_EMPTY = _("Choose at least one kind of event.")
EVENTS_UNKNOWN = _("Unknown kind of event: %(kinds)s.")
TOO_MANY = _("You can register at most %(count)s webhooks.")
DUPLICATE = _("You already have a webhook to this URL: choose its events on its page.")
TEST_DISABLED = _("The webhook is disabled: enable it before sending a test.")
TEST_MESSAGE = _("This is a test delivery from QuantK.")
TEST_TOO_SOON = _("A test was just sent: wait a few seconds before sending another.")
TEST_INTERVAL = dt.timedelta(seconds=10)

# until the centre's catalogue (notifications/catalog.py) is importable
_LOCAL_KINDS: list[tuple[str, Any]] = [
    ("order_filled", _("Order filled")), ("order_rejected", _("Order rejected or not placed")),
    ("order_unknown", _("Order left unknown")), ("position_mismatch", _("Position mismatch")),
    ("killswitch", _("Kill switch")), ("deployment_paused", _("Deployment paused by a rule")),
    ("deployment_halted", _("Deployment halted")), ("backtest_finished", _("Backtest finished")),
    ("backtest_failed", _("Backtest failed")), ("broker_failed", _("Broker credentials failing")),
    ("announcement", _("Announcements")),
]
_NOT_FOR_WEBHOOKS = {"webhook_disabled"}  # a disabled webhook cannot be told it is disabled


def webhook_kinds() -> list[tuple[str, Any]]:
    """(kind, label) a webhook may choose: the notification catalogue's kinds."""
    try:
        from notifications.catalog import KINDS
    except ImportError:
        return list(_LOCAL_KINDS)
    return [(key, kind.label) for key, kind in KINDS.items() if key not in _NOT_FOR_WEBHOOKS]


def url_validate(url: str) -> str:
    """``url`` cleaned, or ApplicationError(field="url"). Host names are checked again at every send,
    after DNS; here only what can be known now (scheme, HTTPS in production, literal addresses)."""
    url = (url or "").strip()
    if len(url) > 500:
        raise ApplicationError(str(URL_TOO_LONG), field="url")
    try:
        scheme, host, _port = sending.url_parts(url)
    except sending.AddressRefused:
        raise ApplicationError(str(URL_INVALID), field="url") from None
    if settings.PRODUCTION and scheme != "https":
        raise ApplicationError(str(URL_HTTPS_REQUIRED), field="url")
    allowed = {name.strip().lower() for name in getattr(settings, "WEBHOOK_ALLOW_PRIVATE_HOSTS", [])}
    if host in allowed:
        return url
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if host == "localhost" or host.endswith(".localhost") or (literal and sending.address_problem(literal)):
        raise ApplicationError(str(URL_PRIVATE), field="url")
    return url


def events_validate(kinds: list[str]) -> list[str]:
    known = dict(webhook_kinds())
    chosen = list(dict.fromkeys(str(kind) for kind in kinds or []))
    if not chosen:
        raise ApplicationError(str(EVENTS_EMPTY), field="events")
    unknown = [kind for kind in chosen if kind not in known]
    if unknown:
        raise ApplicationError(str(EVENTS_UNKNOWN) % {"kinds": ", ".join(unknown)}, field="events")
    return [kind for kind in known if kind in chosen]  # in the catalogue's order


def _secret_new() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def webhook_create(*, actor: Actor, owner: Any, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret (shown once by the door, never again)."""
    url, events = url_validate(url), events_validate(events)
    if WebhookEndpoint.objects.filter(owner=owner, url=url).exists():  # a reloaded "create" answer, say
        raise ApplicationError(str(DUPLICATE), field="url", code="duplicate")
    if WebhookEndpoint.objects.filter(owner=owner).count() >= MAX_ENDPOINTS:
        raise ApplicationError(str(TOO_MANY) % {"count": MAX_ENDPOINTS}, code="too_many")
    secret = _secret_new()
    endpoint = WebhookEndpoint(owner=owner, url=url, events=events)
    endpoint.set_secret(secret)
    endpoint.save()
    audit_record(actor=actor, action="webhook.created", owner=owner, target=endpoint,
                 after={"url": url, "events": events})
    return endpoint, secret


@transaction.atomic
def webhook_update(*, actor: Actor, endpoint: WebhookEndpoint, events: list[str], url: str | None = None
                   ) -> WebhookEndpoint:
    """Choose the endpoint's kinds of event (and change its URL, when given)."""
    before = {"url": endpoint.url, "events": endpoint.events}
    endpoint.events = events_validate(events)
    if url is not None:
        endpoint.url = url_validate(url)
    endpoint.save(update_fields=["events", "url", "updated_at"])
    audit_record(actor=actor, action="webhook.updated", owner=endpoint.owner, target=endpoint, before=before,
                 after={"url": endpoint.url, "events": endpoint.events})
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, actor: Actor, endpoint: WebhookEndpoint) -> str:
    """A new secret (returned once); deliveries from now on are signed with it."""
    secret = _secret_new()
    endpoint.set_secret(secret)
    endpoint.save(update_fields=["secret_encrypted", "updated_at"])
    audit_record(actor=actor, action="webhook.secret_rotated", owner=endpoint.owner, target=endpoint)
    return secret


@transaction.atomic
def webhook_enable(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Active again, with its count of failures reset."""
    before = {"is_active": endpoint.is_active, "consecutive_failures": endpoint.consecutive_failures}
    endpoint.is_active, endpoint.consecutive_failures = True, 0
    endpoint.disabled_at, endpoint.disabled_reason = None, ""
    endpoint.save(update_fields=["is_active", "consecutive_failures", "disabled_at", "disabled_reason", "updated_at"])
    audit_record(actor=actor, action="webhook.enabled", owner=endpoint.owner, target=endpoint, before=before,
                 after={"is_active": True, "consecutive_failures": 0})
    return endpoint


@transaction.atomic
def webhook_delete(*, actor: Actor, endpoint: WebhookEndpoint) -> None:
    audit_record(actor=actor, action="webhook.deleted", owner=endpoint.owner, target=endpoint,
                 before={"url": endpoint.url, "events": endpoint.events})
    endpoint.delete()


@transaction.atomic
def webhook_test_send(*, actor: Actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``webhook.test`` delivery to this endpoint (whatever kinds it chose), sent like any other."""
    if not endpoint.is_active:
        raise ApplicationError(str(TEST_DISABLED), code="disabled")
    # tests are sent at once: a button pressed in a loop must not turn us into someone's load generator
    if WebhookDelivery.objects.filter(endpoint=endpoint, event=TEST_EVENT,
                                      created_at__gte=timezone.now() - TEST_INTERVAL).exists():
        raise ApplicationError(str(TEST_TOO_SOON), code="too_soon")
    (delivery,) = deliveries_create(endpoints=[endpoint], kind=TEST_KIND, event=TEST_EVENT,
                                    payload={"message": str(TEST_MESSAGE), "webhook_id": endpoint.pk})
    audit_record(actor=actor, action="webhook.test_sent", owner=endpoint.owner, target=endpoint,
                 after={"delivery": delivery.pk})
    return delivery
