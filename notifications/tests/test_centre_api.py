"""The centre's API: list with filters, mark read, unread count, preferences; owner isolation."""

import pytest

from notifications.models import Notification, NotificationPreference, NotificationSettings
from notifications.tests.centre_factories import notification

pytestmark = pytest.mark.django_db


def test_it_lists_the_users_notifications_newest_first(api_client, user, other_user):
    first = notification(user, title="first")
    second = notification(user, title="second", kind="backtest_finished", event="backtest.finished")
    notification(other_user, title="bob's")
    answer = api_client.get("/api/v1/notifications/")
    assert answer.status_code == 200
    assert [row["id"] for row in answer.json()["results"]] == [second.pk, first.pk]
    assert answer.json()["results"][0]["category"] == "backtests"


def test_it_filters_unread_and_category(api_client, user):
    notification(user, title="read fill", read=True)
    unread_fill = notification(user, title="unread fill")
    backtest = notification(user, title="backtest", kind="backtest_finished")
    unread = api_client.get("/api/v1/notifications/?unread=true").json()["results"]
    assert {row["id"] for row in unread} == {unread_fill.pk, backtest.pk}
    trading = api_client.get("/api/v1/notifications/?category=trading&unread=true").json()["results"]
    assert [row["id"] for row in trading] == [unread_fill.pk]


def test_a_bad_filter_is_a_400_naming_the_field(api_client):
    answer = api_client.get("/api/v1/notifications/?category=nope")
    assert answer.status_code == 400
    assert "category" in answer.json()["error"]["fields"]


def test_it_marks_one_read_and_counts_unread(api_client, user):
    row = notification(user)
    notification(user)
    assert api_client.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}
    answer = api_client.post(f"/api/v1/notifications/{row.pk}/read/")
    assert answer.status_code == 200 and answer.json()["read"] is True
    assert api_client.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}


def test_it_validates_ownership(api_client, other_api_client, user):
    row = notification(user)
    assert other_api_client.post(f"/api/v1/notifications/{row.pk}/read/").status_code == 404
    assert other_api_client.get("/api/v1/notifications/").json()["results"] == []
    assert other_api_client.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}
    other_api_client.post("/api/v1/notifications/read-all/")
    row.refresh_from_db()
    assert row.read_at is None


def test_read_all_marks_only_the_category_asked(api_client, user):
    fill = notification(user)
    backtest = notification(user, kind="backtest_finished")
    answer = api_client.post("/api/v1/notifications/read-all/?category=backtests")
    assert answer.json() == {"marked": 1, "unread": 1}
    assert Notification.objects.get(pk=backtest.pk).is_read and not Notification.objects.get(pk=fill.pk).is_read


def test_anonymous_is_refused(anon_api_client):
    assert anon_api_client.get("/api/v1/notifications/").status_code in (401, 403)


def test_preferences_show_the_defaults(api_client):
    body = api_client.get("/api/v1/notifications/preferences/").json()
    assert (body["kinds"]["order_filled"]["in_app"], body["kinds"]["order_filled"]["telegram"],
            body["kinds"]["order_filled"]["email"]) == (True, True, False)
    assert body["kinds"]["backtest_finished"]["telegram"] is False
    assert body["kinds"]["killswitch"]["critical"] is True
    assert body["quiet_start"] is None and body["digest_daily"] is False and body["telegram_linked"] is False


def test_preferences_are_saved(api_client, user):
    answer = api_client.put("/api/v1/notifications/preferences/", {
        "kinds": {"order_filled": {"telegram": False, "email": True}}, "quiet_start": "22:00", "quiet_end": "07:00",
        "digest_daily": True, "digest_hour": 8}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["kinds"]["order_filled"] | {"label": ""} == {
        "label": "", "category": "trading", "critical": False, "in_app": True, "telegram": False, "email": True}
    row = NotificationPreference.objects.get(owner=user, kind="order_filled")
    assert (row.in_app, row.telegram, row.email) == (True, False, True)
    settings_row = NotificationSettings.objects.get(owner=user)
    assert (settings_row.quiet_start.hour, settings_row.quiet_end.hour, settings_row.digest_hour) == (22, 7, 8)
    assert answer.json()["quiet_start"] == "22:00"


@pytest.mark.parametrize(("body", "field"), [
    ({"kinds": {"no_such_kind": {"email": True}}}, "kinds"),
    ({"kinds": {"order_filled": {"email": "maybe"}}}, "kinds"),
    ({"digest_hour": 24}, "digest_hour"),
    ({"quiet_start": "25:00"}, "quiet_start"),
    ({"quiet_start": "22:00"}, "quiet_end"),
    ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end"),
])
def test_bad_preferences_are_a_400_with_the_fields_message(api_client, user, body, field):
    answer = api_client.put("/api/v1/notifications/preferences/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]
    assert not NotificationPreference.objects.filter(owner=user).exists()
