"""Webhook pages, API and admin: create (the secret shown once), choose events, rotate, enable, test,
delete; clear field errors for a bad URL or an unknown kind; another user's webhook is a 404; the
secret never appears in lists, details or the admin."""

from __future__ import annotations

import pytest

from core.audit import Actor
from core.models import AuditEntry
from notifications import webhook_services, webhook_tasks
from notifications.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_worker(monkeypatch) -> list[int]:
    queued: list[int] = []
    monkeypatch.setattr(webhook_tasks.webhook_deliver, "delay", lambda **kwargs: queued.append(kwargs["delivery_id"]))
    return queued


@pytest.fixture
def alice_hook(user) -> tuple[WebhookEndpoint, str]:
    return webhook_services.webhook_create(actor=Actor.of_user(user), owner=user, url="https://hooks.example.com/a",
                                           events=["order_filled"])


def test_it_creates_a_webhook_and_shows_the_secret_once(client, user):
    client.force_login(user)
    assert client.get("/notifications/webhooks/new/").status_code == 200
    response = client.post("/notifications/webhooks/new/", {"url": "https://hooks.example.com/q",
                                                            "events": ["order_filled", "deployment_halted"]})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(owner=user)
    secret = endpoint.secret()
    assert secret in response.content.decode()
    assert endpoint.events == ["order_filled", "deployment_halted"]
    for page in ("/notifications/webhooks/", f"/notifications/webhooks/{endpoint.pk}/"):
        text = client.get(page).content.decode()
        assert "hooks.example.com/q" in text and secret not in text
    assert AuditEntry.objects.filter(action="webhook.created", owner=user).exists()

    again = client.post("/notifications/webhooks/new/", {"url": "https://hooks.example.com/q", "events": ["killswitch"]})
    assert str(webhook_services.DUPLICATE) in again.content.decode()  # a reloaded answer makes no second one
    assert WebhookEndpoint.objects.filter(owner=user).count() == 1


@pytest.mark.parametrize("url", ["http://10.0.0.1/hook", "ftp://example.com/", "https://localhost/x", ""])
def test_a_bad_url_is_a_field_error(client, user, url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    client.force_login(user)
    response = client.post("/notifications/webhooks/new/", {"url": url, "events": ["order_filled"]})
    assert response.status_code == 200
    assert 'data-field="url"' in response.content.decode() and "field-error" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_no_kind_chosen_is_a_field_error(client, user):
    client.force_login(user)
    response = client.post("/notifications/webhooks/new/", {"url": "https://hooks.example.com/x"})
    assert str(webhook_services.EVENTS_EMPTY) in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_list_shows_the_latest_deliveries_and_their_status(client, user, alice_hook):
    endpoint, _secret = alice_hook
    WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", state="failed", attempts=6,
                                   last_status=502, last_error="The URL answered HTTP 502.")
    WebhookDelivery.objects.create(endpoint=endpoint, event="order.rejected", state="delivered", attempts=1,
                                   last_status=200)
    client.force_login(user)
    text = client.get("/notifications/webhooks/").content.decode()
    assert 'data-state="failed"' in text and 'data-state="delivered"' in text
    assert "HTTP 502" in text and "order.rejected" in text
    assert "X-QuantK-Signature" in text  # how to verify, documented on the page


def test_it_changes_events_rotates_tests_enables_and_deletes(client, user, alice_hook, no_worker,
                                                             django_capture_on_commit_callbacks):
    endpoint, secret = alice_hook
    client.force_login(user)
    base = f"/notifications/webhooks/{endpoint.pk}/"
    assert client.post(base, {"events": ["killswitch"]}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.events == ["killswitch"]

    response = client.post(base + "rotate/")
    endpoint.refresh_from_db()
    assert endpoint.secret() != secret and endpoint.secret() in response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(base + "test/").status_code == 302
    (test,) = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert (test.event, test.kind) == ("webhook.test", "test") and no_worker == [test.pk]

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, consecutive_failures=10,
                                                          disabled_reason="Disabled after 10 failed deliveries")
    assert "Disabled after 10 failed deliveries" in client.get(base).content.decode()
    client.post(base + "enable/")
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0

    assert client.get(base + "delete/").status_code == 200
    assert client.post(base + "delete/").status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    actions = set(AuditEntry.objects.filter(owner=user).values_list("action", flat=True))
    assert {"webhook.updated", "webhook.secret_rotated", "webhook.test_sent", "webhook.enabled",
            "webhook.deleted"} <= actions


def test_it_validates_ownership_on_every_page(client, other_user, alice_hook, no_worker):
    endpoint, _secret = alice_hook
    client.force_login(other_user)
    base = f"/notifications/webhooks/{endpoint.pk}/"
    assert client.get(base).status_code == 404
    assert client.post(base, {"events": ["killswitch"]}).status_code == 404
    for action in ("rotate/", "enable/", "test/", "delete/"):
        assert client.post(base + action).status_code == 404
    assert client.get(base + "delete/").status_code == 404
    assert "hooks.example.com/a" not in client.get("/notifications/webhooks/").content.decode()
    endpoint.refresh_from_db()
    assert endpoint.events == ["order_filled"] and endpoint.secret() == _secret
    assert not WebhookDelivery.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    assert client.get("/notifications/webhooks/").status_code == 302


# --- API -------------------------------------------------------------------------------------------
def test_the_api_creates_with_the_secret_in_that_answer_only(api_client, user):
    response = api_client.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/api",
                                                     "events": ["order_filled"]}, format="json")
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get(owner=user)
    assert response.json()["secret"] == endpoint.secret()
    listed = api_client.get("/api/v1/webhooks/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["id"] for row in rows] == [endpoint.pk] and "secret" not in rows[0]
    detail = api_client.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert "secret" not in detail and endpoint.secret() not in str(detail)

    rotated = api_client.post(f"/api/v1/webhooks/{endpoint.pk}/rotate/").json()
    endpoint.refresh_from_db()
    assert rotated["secret"] == endpoint.secret() != response.json()["secret"]


def test_the_api_answers_400_with_the_field_for_a_bad_url_or_an_unknown_kind(api_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = []
    bad_url = api_client.post("/api/v1/webhooks/", {"url": "http://169.254.169.254/", "events": ["order_filled"]},
                              format="json")
    assert bad_url.status_code == 400
    assert bad_url.json()["error"]["fields"]["url"] == [str(webhook_services.URL_PRIVATE)]
    unknown = api_client.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/", "events": ["nope"]},
                              format="json")
    assert unknown.status_code == 400
    assert "nope" in unknown.json()["error"]["fields"]["events"][0]
    assert not WebhookEndpoint.objects.exists()


def test_the_api_changes_tests_enables_and_deletes(api_client, alice_hook, no_worker):
    endpoint, _secret = alice_hook
    url = f"/api/v1/webhooks/{endpoint.pk}/"
    changed = api_client.patch(url, {"events": ["killswitch", "order_filled"]}, format="json")
    assert changed.status_code == 200 and changed.json()["events"] == ["order_filled", "killswitch"]
    assert api_client.patch(url, {"events": ["bogus"]}, format="json").status_code == 400
    tested = api_client.post(url + "test/")
    assert tested.status_code == 202 and tested.json()["event"] == "webhook.test"
    again = api_client.post(url + "test/")  # at once again: refused, not sent
    assert again.status_code == 400 and again.json()["error"]["code"] == "too_soon"
    assert WebhookDelivery.objects.filter(event="webhook.test").count() == 1
    assert api_client.post(url + "enable/").json()["is_active"] is True
    assert api_client.delete(url).status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_the_api_validates_ownership(other_api_client, alice_hook, no_worker):
    endpoint, _secret = alice_hook
    url = f"/api/v1/webhooks/{endpoint.pk}/"
    assert other_api_client.get(url).status_code == 404
    assert other_api_client.patch(url, {"events": ["killswitch"]}, format="json").status_code == 404
    assert other_api_client.delete(url).status_code == 404
    for action in ("rotate/", "enable/", "test/"):
        assert other_api_client.post(url + action).status_code == 404
    listed = other_api_client.get("/api/v1/webhooks/").json()
    assert (listed["results"] if isinstance(listed, dict) else listed) == []
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).events == ["order_filled"]
    assert not WebhookDelivery.objects.exists()


def test_the_admin_never_shows_the_secret(client, alice_hook, django_user_model):
    endpoint, secret = alice_hook
    admin_user = django_user_model.objects.create_superuser(email="ops@example.com", password="x-very-long-1")
    client.force_login(admin_user)
    for url in ("/admin/notifications/webhookendpoint/", f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200
        text = response.content.decode()
        assert secret not in text and endpoint.secret_encrypted not in text
    WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", state="failed", last_status=500)
    deliveries = client.get(f"/admin/notifications/webhookdelivery/?endpoint__id__exact={endpoint.pk}")
    assert deliveries.status_code == 200 and "order.filled" in deliveries.content.decode()


def test_the_admin_enables_through_the_service(client, alice_hook, django_user_model):
    endpoint, _secret = alice_hook
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, consecutive_failures=9)
    admin_user = django_user_model.objects.create_superuser(email="ops@example.com", password="x-very-long-1")
    client.force_login(admin_user)
    client.post("/admin/notifications/webhookendpoint/", {"action": "enable_selected", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 0
    assert AuditEntry.objects.filter(action="webhook.enabled", door="admin").exists()
