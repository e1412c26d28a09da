"""Operators in the admin's browser: the dashboard reached from the admin index, the global kill
switch pulled and released there, maintenance mode turned on and off on the system settings page,
and an incident tool run through its confirmation page.

``SHOTS_DIR=/some/dir`` saves screenshots of the dashboard, the settings page and the confirmation.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import ApiToken
from accounts.services import api_token_create
from accounts.tests.factories import UserFactory
from core.models import AuditEntry
from tests.e2e.helpers import login
from tests.e2e.test_order_pages import DESKTOP, shoot
from trading.orders.models import KillSwitch

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


def test_an_operator_uses_the_dashboard_the_settings_and_an_incident_tool(page, new_page):
    from coupons.tests.helpers import plans_seeded

    plans_seeded()  # the settings' default plan (an earlier browser test's flush may have removed the seeded plans)
    operator = UserFactory(email="ops.admin@example.com", language="en", is_staff=True, is_superuser=True)
    victim = UserFactory(email="stolen.phone@example.com", language="en")
    api_token_create(user=victim, name="phone")
    page.set_viewport_size(DESKTOP)
    login(page, operator.email)

    page.goto("/admin/")
    page.get_by_test_id("ops-dashboard-link").click()
    expect(page.get_by_test_id("health-database")).to_contain_text("OK")
    page.locator("#ops-kill-switch input[name=reason]").fill("exchange halt drill")
    page.locator("#ops-kill-switch input[type=submit]").click()
    expect(page.get_by_test_id("kill-switch-state")).to_contain_text("exchange halt drill")
    shoot(page, "opsadmin-dashboard")
    page.locator("#ops-kill-switch input[type=submit]").click()
    expect(page.get_by_test_id("kill-switch-state")).to_contain_text("Released")

    page.goto("/admin/core/systemsettings/")
    page.locator("input[name=maintenance_mode]").check()
    page.locator("input[name=maintenance_message]").fill("Upgrade until 10:00 KST")
    shoot(page, "opsadmin-settings")
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert KillSwitch.objects.get(scope="global").on  # maintenance pulled the switch
    visitor = new_page()
    login(visitor, victim.email)  # signing in stays possible
    visitor.goto("/dashboard/")
    expect(visitor.get_by_test_id("maintenance-banner")).to_contain_text("Upgrade until 10:00 KST")
    shoot(visitor, "opsadmin-banner")
    page.locator("input[name=maintenance_mode]").uncheck()
    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert not KillSwitch.objects.get(scope="global").on

    page.goto("/admin/accounts/user/")
    page.locator(f"input[name=_selected_action][value='{victim.pk}']").check()
    page.locator("select[name=action]").select_option("incident_api_tokens_revoke")
    page.locator("button[name=index]").click()
    expect(page.get_by_test_id("incident-explain")).to_be_visible()
    page.locator("input[name=reason]").fill("phone stolen")
    shoot(page, "opsadmin-incident-confirm")
    page.locator("input[type=submit]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert not ApiToken.objects.filter(user=victim).exists()
    assert AuditEntry.objects.filter(action="incident.api_tokens_revoke", reason="phone stolen").exists()
