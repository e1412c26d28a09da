"""The operators' dashboard (/admin/ops/): staff only; health rows, today's orders with the unknown
one linked to its admin page, open P0 feedback linked and flagged overdue, the global kill switch
pulled and released from it; no broker call."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core.system import dashboard
from notifications.models import FeedbackReport
from trading.orders.models import KillSwitch, Order
from trading.orders.tests.conftest import morning, new_order, no_jobs, paper_account  # noqa: F401 - fixtures
from trading.paper.tests.conftest import samsung, store, write_bar  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
BORROWED_FIXTURES = (morning, no_jobs, paper_account, samsung, store, write_bar)  # the ledger's, imported above


@pytest.fixture(autouse=True)
def _no_worker_wait(settings, monkeypatch):
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""

    def no_worker() -> None:
        raise RuntimeError("no Celery worker answered a ping within 1 s")

    monkeypatch.setitem(dashboard.HEALTH_CHECKS, "workers", no_worker)  # no worker runs here: skip the wait


def test_staff_see_health_orders_unknown_linked_and_urgent_feedback(admin_client, paper_account, no_jobs, user):
    unknown = new_order(paper_account, quantity=1, price=71_300)
    Order.objects.filter(pk=unknown.pk).update(state="unknown", unknown_since=timezone.now())
    new_order(paper_account, quantity=2, price=71_000)
    now = timezone.now()
    p0 = FeedbackReport.objects.create(reporter=user, what_happened="orders page blank", severity="P0",
                                       status="triaged", due_at=now - dt.timedelta(minutes=5))
    FeedbackReport.objects.create(reporter=user, what_happened="old", severity="P0", status="resolved")
    FeedbackReport.objects.create(reporter=user, what_happened="typo", severity="P3")
    page = admin_client.get("/admin/ops/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="health-database"' in html and 'data-testid="health-workers"' in html
    assert f'href="/admin/trading/order/{unknown.pk}/change/"' in html
    assert [row["report"] for row in page.context["snapshot"].feedback] == [p0]
    assert page.context["snapshot"].feedback[0]["overdue"]
    assert f'/admin/notifications/feedbackreport/{p0.pk}/change/' in html
    assert dict((state, count) for _label, state, count in page.context["snapshot"].orders["by_state"]) == {
        "new": 1, "unknown": 1}
    assert "/admin/ops/" in admin_client.get("/admin/").content.decode()  # linked from the admin index


def test_the_global_kill_switch_is_pulled_and_released_from_the_dashboard(admin_client):
    admin_client.post("/admin/ops/kill-switch/", {"do": "pull", "reason": "exchange halt"})
    assert KillSwitch.objects.get(scope="global").on
    assert "exchange halt" in admin_client.get("/admin/ops/").content.decode()
    admin_client.post("/admin/ops/kill-switch/", {"do": "release", "reason": "over"})
    assert not KillSwitch.objects.get(scope="global").on


def test_non_staff_are_sent_to_the_admin_login(client, user):
    assert client.get("/admin/ops/").status_code == 302
    client.force_login(user)
    response = client.get("/admin/ops/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post("/admin/ops/kill-switch/", {"do": "pull", "reason": "x"}).status_code == 302
    assert not KillSwitch.objects.filter(on=True).exists()


def test_a_check_that_hangs_shows_as_timed_out_without_holding_the_page(monkeypatch):
    import threading

    release = threading.Event()
    monkeypatch.setattr(dashboard, "HEALTH_TIMEOUT", 0.2)
    monkeypatch.setitem(dashboard.HEALTH_CHECKS, "workers", lambda: release.wait(30))
    try:
        rows = {row.name: row for row in dashboard.health_rows()}
    finally:
        release.set()
    assert not rows["workers"].ok and "timed out" in rows["workers"].error and rows["cache"].ok
