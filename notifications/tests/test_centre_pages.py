"""The centre's pages: the list (filters, mark read, pagination), preferences, the bell, the dashboard."""

import re

import pytest

from notifications import catalog
from notifications.models import Notification, NotificationPreference, NotificationSettings
from notifications.tests.centre_factories import notification

pytestmark = pytest.mark.django_db


def _checked(page: str, name: str) -> bool:
    tag = re.search(rf'<input type="checkbox" name="{name}"[^>]*>', page)
    assert tag, name
    return " checked" in tag.group(0)


@pytest.fixture
def alice(client, user):
    user.language = "en"
    user.save()
    client.force_login(user)
    return client


def test_the_list_shows_the_users_notifications_only(alice, user, other_user):
    notification(user, title="alice fill")
    notification(other_user, title="bob fill")
    page = alice.get("/notifications/").content.decode()
    assert "alice fill" in page and "bob fill" not in page


def test_it_filters_by_category_and_unread(alice, user):
    notification(user, title="fill read", read=True)
    notification(user, title="fill unread")
    notification(user, title="a backtest", kind="backtest_finished")
    page = alice.get("/notifications/?category=trading&unread=on").content.decode()
    assert "fill unread" in page and "fill read" not in page and "a backtest" not in page
    assert alice.get("/notifications/?category=nope").status_code == 200  # an error on the field, no 500


def test_it_paginates(alice, user):
    for number in range(35):
        notification(user, title=f"n{number:02d}")
    first = alice.get("/notifications/").content.decode()
    assert "n34" in first and "n04" not in first and 'data-testid="next-page"' in first
    assert "n04" in alice.get("/notifications/?page=2").content.decode()


def test_mark_one_read_and_open_its_link(alice, user):
    row = notification(user, link="/trading/orders/7/")
    answer = alice.post(f"/notifications/{row.pk}/read/", {"open": "1"})
    assert answer.status_code == 302 and answer["Location"] == "/trading/orders/7/"
    row.refresh_from_db()
    assert row.is_read


def test_mark_all_read(alice, user, other_user):
    notification(user)
    notification(user)
    bobs = notification(other_user)
    answer = alice.post("/notifications/read-all/", {"next": "/notifications/"})
    assert answer.status_code == 302
    assert not Notification.objects.filter(owner=user, read_at__isnull=True).exists()
    bobs.refresh_from_db()
    assert not bobs.is_read


def test_it_validates_ownership(client, other_user, user):
    row = notification(user)
    client.force_login(other_user)
    assert client.post(f"/notifications/{row.pk}/read/").status_code == 404
    row.refresh_from_db()
    assert not row.is_read


def test_pages_need_a_sign_in(client):
    assert client.get("/notifications/").status_code == 302
    assert client.get("/notifications/preferences/").status_code == 302


def test_the_preferences_grid_shows_every_kind_with_its_defaults(alice):
    page = alice.get("/notifications/preferences/").content.decode()
    for key in catalog.KINDS:
        assert f'data-kind="{key}"' in page
    assert _checked(page, "order_filled__telegram") and _checked(page, "order_filled__in_app")
    assert not _checked(page, "backtest_finished__telegram") and _checked(page, "killswitch__email")
    assert "Telegram needs a linked chat" in page


def _grid_with(**overrides):
    data = {f"{key}__{channel}": "on" for key, kind in catalog.KINDS.items() for channel in kind.channels}
    for name, on in overrides.items():
        if on:
            data[name] = "on"
        else:
            data.pop(name, None)
    return data


def test_preferences_are_saved_from_the_page(alice, user):
    data = _grid_with(order_filled__in_app=False, backtest_finished__email=True)
    data.update(quiet_start="22:00", quiet_end="07:00", digest_daily="on", digest_hour="8")
    answer = alice.post("/notifications/preferences/", data)
    assert answer.status_code == 302
    fill = NotificationPreference.objects.get(owner=user, kind="order_filled")
    assert (fill.in_app, fill.telegram, fill.email) == (False, True, False)
    backtest = NotificationPreference.objects.get(owner=user, kind="backtest_finished")
    assert (backtest.in_app, backtest.telegram, backtest.email) == (True, False, True)
    row = NotificationSettings.objects.get(owner=user)
    assert (row.quiet_start.hour, row.quiet_end.hour, row.digest_daily, row.digest_hour) == (22, 7, True, 8)
    page = alice.get("/notifications/preferences/").content.decode()
    assert not _checked(page, "order_filled__in_app") and _checked(page, "backtest_finished__email")


def test_half_quiet_hours_are_a_form_error(alice, user):
    data = _grid_with(order_filled__in_app=False)
    data.update(quiet_start="22:00", quiet_end="", digest_hour="18")
    answer = alice.post("/notifications/preferences/", data)
    assert answer.status_code == 200
    assert "Give both the start and the end of the quiet hours, or neither." in answer.content.decode()
    assert not NotificationPreference.objects.filter(owner=user).exists()  # nothing half saved


def test_the_bell_shows_the_unread_count(alice, user):
    notification(user)
    notification(user)
    notification(user, read=True)
    page = alice.get("/settings/").content.decode()
    assert 'data-testid="bell-count" >2</span>' in page
    assert "notifications-bell.js" in page


def test_the_bell_costs_one_query(alice, user, django_assert_max_num_queries):
    from django.test import RequestFactory

    from notifications.centre_context import bell

    request = RequestFactory().get("/")
    request.user = user
    with django_assert_max_num_queries(1):
        assert bell(request) == {"bell_unread": 0}


def test_the_bell_is_not_there_for_visitors(client):
    assert 'data-testid="bell"' not in client.get("/settings/").content.decode()


def test_the_settings_page_links_to_the_notification_settings(alice):
    assert 'href="/notifications/preferences/" data-testid="notification-settings-link"' in \
        alice.get("/settings/").content.decode()


def test_the_dashboard_shows_the_latest_five(alice, user, other_user):
    for number in range(7):
        notification(user, title=f"dash{number}")
    notification(other_user, title="bobs dash")
    page = alice.get("/dashboard/").content.decode()
    assert page.count('data-testid="dash-notification"') == 5
    assert "dash6" in page and "dash1" not in page and "bobs dash" not in page
