"""Announcements in the browser: a published announcement is a banner on the pages of the demo user,
dismissing it hides it (and it stays hidden after a reload); an incident resolved by an operator in
the admin shows its resolution to the user who saw the incident.

``SHOTS_DIR=/some/dir`` also saves screenshots of the banners (desktop and a 390 px phone).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from core.audit import Actor
from notifications import announcement_services as services
from notifications.models import AnnouncementDismissal
from tests.e2e.helpers import login, watch_problems
from tests.e2e.test_order_pages import DESKTOP, shoot

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

OPERATOR = Actor.system("e2e operator")


@pytest.fixture
def problems(page) -> list[str]:
    """Policy violations and script errors of the tab."""
    found = watch_problems(page, [], console=False)
    yield found
    assert found == [], "\n".join(found)


def publish(kind: str, title: str, body: str, **extra):
    announcement = services.announcement_create(actor=OPERATOR, kind=kind, title=title, body=body, **extra)
    return services.announcement_publish(actor=OPERATOR, announcement=announcement)


def test_a_banner_shows_until_the_user_dismisses_it(page, problems):
    demo = UserFactory(email="demo.announce@example.com")
    maintenance = publish("maintenance", "정기 점검 안내", "12월 6일 02:00–04:00 동안 자동매매와 주문이 멈춥니다.",
                          expires_at=timezone.now() + dt.timedelta(days=2))
    publish("release", "새 기능: 웹훅", "이제 알림을 웹훅으로 받을 수 있습니다.")
    page.set_viewport_size(DESKTOP)
    login(page, demo.email)

    page.goto("/dashboard/")
    banner = page.locator(f"[data-testid=announcement-banner][data-announcement-id='{maintenance.pk}']")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("정기 점검 안내")
    expect(banner).to_have_attribute("data-kind", "maintenance")
    expect(page.get_by_test_id("announcement-banner")).to_have_count(2)
    shoot(page, "announcements")

    page.goto("/strategies/")  # every page
    expect(banner).to_be_visible()
    banner.get_by_test_id("announcement-dismiss").click()  # htmx: removed in place, no navigation
    expect(banner).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/strategies/$"))
    expect(page.get_by_test_id("announcement-banner")).to_have_count(1)
    assert AnnouncementDismissal.objects.filter(announcement=maintenance, user=demo).count() == 1

    page.reload()
    expect(page.get_by_test_id("announcement-banner")).to_have_count(1)
    expect(banner).to_have_count(0)
    page.goto("/dashboard/")
    expect(banner).to_have_count(0)


def test_an_incident_resolved_in_the_admin_shows_its_resolution(page, new_page, problems):
    demo = UserFactory(email="demo.incident@example.com")
    incident = publish("incident", "KIS 주문 지연", "KIS 주문 접수가 지연되고 있습니다. 확인 중입니다.")
    page.set_viewport_size(DESKTOP)
    login(page, demo.email)
    page.goto("/dashboard/")
    banner = page.locator(f"[data-testid=announcement-banner][data-announcement-id='{incident.pk}']")
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("확인 중입니다")
    shoot(page, "incident")

    admin = new_page()
    login(admin, UserFactory(email="ops.announce@example.com", is_staff=True, is_superuser=True).email)
    admin.goto("/admin/notifications/announcement/")
    admin.locator(f"input[name=_selected_action][value='{incident.pk}']").check()
    admin.locator("select[name=action]").select_option("resolve_selected")
    with admin.expect_navigation():
        admin.locator("button[name=index]").click()
    expect(admin.get_by_test_id("incidents")).to_contain_text("KIS 주문 지연")
    admin.locator("textarea[name=resolution]").fill("14:20에 복구되었습니다. 지연된 주문은 모두 처리되었습니다.")
    with admin.expect_navigation():
        admin.locator("input[type=submit]").click()
    incident.refresh_from_db()
    assert incident.resolved_at is not None

    page.reload()
    expect(banner).to_have_attribute("data-resolved", "1")
    expect(banner).to_have_attribute("role", "status")
    expect(banner.get_by_test_id("announcement-resolution")).to_contain_text("14:20에 복구되었습니다.")
    shoot(page, "incident-resolved")
    banner.get_by_test_id("announcement-dismiss").click()
    expect(banner).to_have_count(0)
    page.reload()
    expect(banner).to_have_count(0)
