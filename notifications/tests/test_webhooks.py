"""Webhooks: signed JSON a real receiver can verify, retried with back-off, endpoints disabled after
repeated failures (with a notice), and the address check after DNS (private addresses refused,
nothing sent; the connection pinned to the checked address)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from core import events
from core.audit import Actor
from core.models import AuditEntry
from notifications import webhook_delivery, webhook_sending, webhook_services, webhook_tasks
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.tests.webhook_receiver import Receiver
from notifications.webhooks import (DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_sign,
                                    signature_verify, webhook_enqueue)

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Ids of the deliveries handed to the worker (the tests run each attempt themselves)."""
    ids: list[int] = []
    monkeypatch.setattr(webhook_tasks.webhook_deliver, "delay", lambda **kwargs: ids.append(kwargs["delivery_id"]))
    monkeypatch.setattr(webhook_tasks.webhook_deliver, "apply_async", lambda kwargs, countdown: None)
    return ids


@pytest.fixture
def published(monkeypatch) -> list[events.Event]:
    seen: list[events.Event] = []
    monkeypatch.setattr(events, "ROUTES", [seen.append])
    return seen


@pytest.fixture
def allow_local(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]


def endpoint_for(user, url: str, kinds: list[str] | None = None) -> tuple[WebhookEndpoint, str]:
    return webhook_services.webhook_create(actor=Actor.of_user(user), owner=user, url=url,
                                           events=kinds or ["order_filled"])


def enqueue(user, django_capture_on_commit_callbacks, **payload) -> int:
    with django_capture_on_commit_callbacks(execute=True):
        return webhook_enqueue(user=user, kind="order_filled", event="order.filled",
                               payload=payload or {"symbol": "005930", "price": Decimal("71500")})


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve the names of ``answers`` to those addresses (others really); returns the names asked for."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            asked.append(host)
            return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (address, port, 0, 0) if ":" in address else (address, port)) for address in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_delivery_arrives_as_signed_json_the_receiver_can_verify(user, allow_local, queued,
                                                                   django_capture_on_commit_callbacks):
    with Receiver([200]) as receiver:
        endpoint, secret = endpoint_for(user, receiver.url)
        endpoint_for(user, receiver.url + "?other", ["backtest_finished"])  # another kind: not sent there
        assert enqueue(user, django_capture_on_commit_callbacks) == 1
        (delivery_id,) = queued
        delivery = webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id)

    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    (request,) = receiver.received
    body = json.loads(request.body)
    assert body == {"id": delivery_id, "event": "order.filled", "kind": "order_filled",
                    "created_at": delivery.created_at.isoformat(), "data": {"symbol": "005930", "price": "71500"}}
    headers = {key.lower(): value for key, value in request.headers.items()}
    assert headers[DELIVERY_HEADER.lower()] == str(delivery_id)
    assert headers["user-agent"].startswith("QuantK-Webhook")
    timestamp, signature = headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()]
    assert abs(int(timestamp) - time.time()) < 60
    assert signature.startswith("sha256=")
    assert signature_verify(secret, timestamp, request.body, signature)
    assert not signature_verify(secret, timestamp, request.body.replace(b"71500", b"71600"), signature)
    assert not signature_verify("another-secret", timestamp, request.body, signature)
    assert not signature_verify(secret, int(timestamp) + 1, request.body, signature)


def test_signature_verify_refuses_an_old_or_future_timestamp():
    body = b'{"id":1}'
    signature = signature_sign("s3cret", 1_000_000, body)
    assert signature_verify("s3cret", "1000000", body, signature, tolerance=300, now=1_000_200)
    assert not signature_verify("s3cret", "1000000", body, signature, tolerance=300, now=1_000_301)
    assert not signature_verify("s3cret", "1000000", body, signature, tolerance=300, now=999_600)
    assert not signature_verify("s3cret", "not a number", body, signature, now=1_000_000)
    assert signature_verify("s3cret", 1_000_000, body.decode(), signature, now=1_000_000)  # str or bytes


def test_a_failed_attempt_is_retried_after_a_back_off_until_delivered(user, allow_local, queued,
                                                                       django_capture_on_commit_callbacks):
    with Receiver([500, 200]) as receiver:
        endpoint_for(user, receiver.url)
        enqueue(user, django_capture_on_commit_callbacks)
        (delivery_id,) = queued
        first = webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id)
        assert (first.state, first.attempts, first.last_status) == ("pending", 1, 500)
        assert "HTTP 500" in first.last_error
        assert first.next_attempt_at - timezone.now() > dt.timedelta(seconds=20)
        assert webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id) is None  # not due yet
        assert webhook_delivery.deliveries_due() == []
        later = first.next_attempt_at + dt.timedelta(seconds=1)
        assert webhook_delivery.deliveries_due(now=later) == [delivery_id]
        second = webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id, now=later)

    assert (second.state, second.attempts, second.last_status, second.last_error) == ("delivered", 2, 200, "")
    assert [request.headers[DELIVERY_HEADER] for request in receiver.received] == [str(delivery_id)] * 2
    assert receiver.received[0].body == receiver.received[1].body


def test_the_back_off_grows_and_is_capped():
    assert [webhook_delivery.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhook_delivery.backoff(20).total_seconds() == 3600


def test_repeated_failures_disable_the_endpoint_and_tell_its_owner(user, allow_local, queued, published, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    with Receiver([503]) as receiver:
        endpoint, _secret = endpoint_for(user, receiver.url)
        for _ in range(2):
            enqueue(user, django_capture_on_commit_callbacks)
            delivery_id = queued[-1]
            with django_capture_on_commit_callbacks(execute=True):
                webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id)
                last = webhook_delivery.webhook_delivery_attempt(
                    delivery_id=delivery_id, now=timezone.now() + dt.timedelta(hours=2))
            assert (last.state, last.attempts) == ("failed", 2)
    assert len(receiver.received) == 4

    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    assert endpoint.consecutive_failures == 2
    assert "503" in endpoint.disabled_reason
    (notice,) = [event for event in published if event.name == "webhook.disabled"]
    assert notice.user_id == user.pk
    assert notice.payload == {"id": endpoint.pk, "url_host": "127.0.0.1", "reason": endpoint.disabled_reason,
                              "link": f"/notifications/webhooks/{endpoint.pk}/"}
    assert AuditEntry.objects.filter(action="webhook.disabled", owner=user).count() == 1
    assert enqueue(user, django_capture_on_commit_callbacks) == 0  # a disabled endpoint gets nothing

    webhook_services.webhook_enable(actor=Actor.of_user(user), endpoint=endpoint)
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_reason) == (True, 0, "")


def test_a_delivery_resets_the_count_of_failures(user, allow_local, queued, settings,
                                                 django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    with Receiver([500, 200]) as receiver:
        endpoint, _secret = endpoint_for(user, receiver.url)
        for _ in range(2):
            enqueue(user, django_capture_on_commit_callbacks)
            webhook_delivery.webhook_delivery_attempt(delivery_id=queued[-1])
            endpoint.refresh_from_db()
            if _ == 0:
                assert endpoint.consecutive_failures == 1
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "0.0.0.0", "192.168.0.7",
                                     "::ffff:127.0.0.1", "100.64.0.1", "224.0.0.1"])
def test_a_host_resolving_to_a_private_address_is_refused_and_nothing_is_sent(
        user, address, monkeypatch, queued, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    with Receiver([200]) as receiver:
        # were it sent to what the name resolves to, 127.0.0.1 would reach the receiver
        fake_dns(monkeypatch, {"hooks.example.com": [address]})
        endpoint_for(user, f"http://hooks.example.com:{receiver.port}/hook")
        enqueue(user, django_capture_on_commit_callbacks)
        delivery = webhook_delivery.webhook_delivery_attempt(delivery_id=queued[0])
    assert receiver.received == []
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)  # no retry
    assert delivery.last_error.startswith("Refused") or delivery.last_error.startswith("거부")
    assert address in delivery.last_error


def test_one_private_address_among_public_ones_is_enough_to_refuse(monkeypatch):
    fake_dns(monkeypatch, {"mixed.example.com": ["93.184.216.34", "10.0.0.8"]})
    with pytest.raises(webhook_sending.AddressRefused) as refused:
        webhook_sending.target_check("https://mixed.example.com/hook", https_only=False)
    assert (refused.value.code, refused.value.address) == ("private", "10.0.0.8")
    fake_dns(monkeypatch, {"public.example.com": ["93.184.216.34"]})
    target = webhook_sending.target_check("https://public.example.com/hook", https_only=False)
    assert (target.host, target.ip, target.port) == ("public.example.com", "93.184.216.34", 443)


def test_the_platforms_own_services_are_refused(monkeypatch):
    fake_dns(monkeypatch, {"db.internal.example": ["93.184.216.40"], "evil.example.com": ["93.184.216.40"]})
    with pytest.raises(webhook_sending.AddressRefused) as refused:
        webhook_sending.target_check("https://evil.example.com/", https_only=False,
                                     service_urls=("postgres://db.internal.example:5432/app",))
    assert refused.value.code == "own_service"
    # an allow-listed test host may be private, but never the address and port of one of our services
    with pytest.raises(webhook_sending.AddressRefused):
        webhook_sending.target_check("http://127.0.0.1:6379/", https_only=False, allow_hosts=["127.0.0.1"],
                                     service_urls=("redis://127.0.0.1:6379/15",))


def test_the_connection_goes_to_the_checked_address_with_the_host_name_kept(user, monkeypatch, queued, settings,
                                                                            django_capture_on_commit_callbacks):
    """DNS rebinding: the name is resolved once, checked, and the request connects to that address."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["receiver.test"]
    with Receiver([200]) as receiver:
        asked = fake_dns(monkeypatch, {"receiver.test": ["127.0.0.1"]})
        endpoint_for(user, f"http://receiver.test:{receiver.port}/hook?x=1")
        enqueue(user, django_capture_on_commit_callbacks)
        delivery = webhook_delivery.webhook_delivery_attempt(delivery_id=queued[0])
    assert delivery.state == "delivered"
    assert asked == ["receiver.test"]  # resolved once, by the check: the connection did not ask again
    (request,) = receiver.received
    assert request.headers["Host"] == f"receiver.test:{receiver.port}"
    assert request.path == "/hook?x=1"


def test_no_answer_is_a_failed_attempt_to_retry(user, allow_local, queued, django_capture_on_commit_callbacks):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nobody listens there
    endpoint_for(user, f"http://127.0.0.1:{port}/hook")
    enqueue(user, django_capture_on_commit_callbacks)
    delivery = webhook_delivery.webhook_delivery_attempt(delivery_id=queued[0])
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, None)
    assert "ConnectError" in delivery.last_error


def test_https_is_required_in_production(user, settings, queued, django_capture_on_commit_callbacks, monkeypatch):
    settings.PRODUCTION = True
    with pytest.raises(webhook_services.ApplicationError) as refused:
        endpoint_for(user, "http://hooks.example.com/hook")
    assert refused.value.field == "url"
    # an endpoint registered before (or edited around the service) is refused at send time
    endpoint = WebhookEndpoint(owner=user, url="http://hooks.example.com/hook", events=["order_filled"])
    endpoint.set_secret("x")
    endpoint.save()
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    enqueue(user, django_capture_on_commit_callbacks)
    delivery = webhook_delivery.webhook_delivery_attempt(delivery_id=queued[0])
    assert delivery.state == "failed" and "HTTPS" in delivery.last_error


@pytest.mark.parametrize("url", ["http://127.0.0.1/hook", "http://[::1]/x", "http://localhost:8000/",
                                 "https://169.254.169.254/latest/meta-data", "ftp://example.com/",
                                 "https://user:pw@example.com/", "not a url"])
def test_registration_refuses_what_can_be_known_to_be_wrong(user, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    with pytest.raises(webhook_services.ApplicationError) as refused:
        endpoint_for(user, url)
    assert refused.value.field == "url"


def test_unknown_or_no_kinds_are_refused(user):
    for kinds in (["order_filled", "no_such_kind"], []):
        with pytest.raises(webhook_services.ApplicationError) as refused:
            webhook_services.webhook_create(actor=Actor.of_user(user), owner=user, url="https://example.com/h",
                                            events=kinds)
        assert refused.value.field == "events"


def test_the_sweep_queues_the_due_deliveries(user, monkeypatch):
    endpoint, _secret = endpoint_for(user, "https://example.com/hook")
    now = timezone.now()
    due = WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", kind="order_filled",
                                         next_attempt_at=now - dt.timedelta(seconds=1))
    WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", next_attempt_at=now + dt.timedelta(hours=1))
    WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", state="delivered", next_attempt_at=None)
    sent: list[int] = []
    monkeypatch.setattr(webhook_tasks.webhook_deliver, "delay", lambda **kwargs: sent.append(kwargs["delivery_id"]))
    assert webhook_tasks.webhook_deliver_due.run() == 1
    assert sent == [due.pk]


def test_the_secret_is_encrypted_and_audits_never_hold_it(user):
    endpoint, secret = endpoint_for(user, "https://example.com/hook")
    assert len(secret) >= 40 and secret not in endpoint.secret_encrypted
    rotated = webhook_services.webhook_secret_rotate(actor=Actor.of_user(user), endpoint=endpoint)
    assert rotated != secret and WebhookEndpoint.objects.get(pk=endpoint.pk).secret() == rotated
    for entry in AuditEntry.objects.filter(owner=user):
        assert secret not in json.dumps([entry.before, entry.after, entry.reason])
        assert rotated not in json.dumps([entry.before, entry.after, entry.reason])


def test_a_published_event_of_a_chosen_kind_is_delivered_to_the_webhook(user, other_user, allow_local, queued,
                                                                        django_capture_on_commit_callbacks):
    """The whole path: a service publishes, the centre's routing keeps the kind, the webhook gets it."""
    from notifications import routing

    with Receiver([200]) as receiver:
        _endpoint, secret = endpoint_for(user, receiver.url, ["order_filled"])
        endpoint_for(other_user, receiver.url, ["order_filled"])  # bob's webhook: not his event
        with django_capture_on_commit_callbacks(execute=True):
            routing.notification_send(user=user, event="order.filled",
                                      payload={"symbol": "005930", "quantity": 10, "price": "71500"})
            routing.notification_send(user=user, event="backtest.progress", payload={"done": 3})  # not kept
        (delivery_id,) = queued
        webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id)
    (request,) = receiver.received
    body = json.loads(request.body)
    assert (body["event"], body["kind"], body["data"]["symbol"]) == ("order.filled", "order_filled", "005930")
    assert signature_verify(secret, request.headers[TIMESTAMP_HEADER], request.body, request.headers[SIGNATURE_HEADER])


def test_finished_deliveries_older_than_a_month_are_pruned(user):
    endpoint, _secret = endpoint_for(user, "https://example.com/hook")
    old = timezone.now() - dt.timedelta(days=31)
    for state in ("delivered", "failed", "pending"):
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", state=state)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=old)
    recent = WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", state="delivered")
    assert webhook_tasks.webhook_prune.run() == 2
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"pending", "delivered"}
    assert WebhookDelivery.objects.filter(pk=recent.pk).exists()
