"""Webhooks in the browser: a user adds a webhook (a private address is refused on the field), sees
its secret once, and finds it listed with its deliveries; another user gets 404.

``SHOTS_DIR=/some/dir`` also saves screenshots of the form, the secret and the list.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.e2e.helpers import login, watch_problems
from tests.e2e.test_order_pages import DESKTOP, shoot

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def problems(page) -> list[str]:
    """Policy violations and script errors of the tab."""
    found = watch_problems(page, [], console=False)
    yield found
    assert found == [], "\n".join(found)


def test_a_webhook_is_added_with_its_secret_shown_once(page, new_page, problems):
    user = UserFactory(email="hooks.user@example.com")
    page.set_viewport_size(DESKTOP)
    login(page, user.email)
    page.goto("/notifications/webhooks/")
    expect(page.get_by_test_id("no-webhooks")).to_be_visible()
    page.get_by_test_id("webhook-new").click()

    form = page.get_by_test_id("webhook-form")
    form.locator("input[name=url]").fill("http://169.254.169.254/latest/meta-data")
    form.locator("input[name=events][value=order_filled]").check()
    form.locator("input[name=events][value=deployment_halted]").check()
    page.get_by_test_id("webhook-save").click()
    expect(page.locator("[data-field=url] [data-testid=field-error]")).to_be_visible()
    assert not WebhookEndpoint.objects.exists()
    expect(form.locator("input[name=events][value=order_filled]")).to_be_checked()  # kept on the form
    shoot(page, "webhook-form-error")

    form.locator("input[name=url]").fill("https://hooks.example.com/quantk")
    page.get_by_test_id("webhook-save").click()
    secret_box = page.get_by_test_id("webhook-secret")
    expect(secret_box).to_be_visible()
    endpoint = WebhookEndpoint.objects.get(owner=user)
    expect(secret_box).to_have_value(endpoint.secret())
    assert endpoint.events == ["order_filled", "deployment_halted"]
    shoot(page, "webhook-secret")

    WebhookDelivery.objects.create(endpoint=endpoint, event="order.filled", kind="order_filled", state="delivered",
                                   attempts=1, last_status=200)
    WebhookDelivery.objects.create(endpoint=endpoint, event="deployment.halted", kind="deployment_halted",
                                   state="failed", attempts=6, last_status=502, last_error="The URL answered HTTP 502.")
    page.get_by_test_id("webhook-secret-done").click()
    expect(page.get_by_test_id("webhook-delivery")).to_have_count(2)
    assert endpoint.secret() not in page.content()
    page.goto("/notifications/webhooks/")
    row = page.get_by_test_id("webhook-row")
    expect(row).to_have_count(1)
    expect(row.locator("[data-testid=webhook-delivery][data-state=failed]")).to_contain_text("HTTP 502")
    expect(page.get_by_test_id("webhook-docs")).to_contain_text("X-QuantK-Signature")
    assert endpoint.secret() not in page.content()
    shoot(page, "webhook-list")

    other = new_page()
    login(other, UserFactory(email="hooks.other@example.com").email)
    response = other.goto(f"/notifications/webhooks/{endpoint.pk}/")
    assert response.status == 404
