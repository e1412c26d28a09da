"""Routing: a published event becomes a notification, a live count and the chosen channels."""

import asyncio
import datetime as dt
import zoneinfo

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import mail

from core import events
from core.realtime import user_group
from notifications import outbox, routing, webhooks
from notifications.models import Notification, NotificationPreference, NotificationSettings

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
FILL = {"id": 7, "symbol": "005930", "side": "buy", "quantity": "10", "filled_quantity": "10",
        "average_fill_price": "71000", "state": "filled", "reason": ""}
MISMATCH = {"account_id": 1, "symbol": "005930", "note": "the broker holds 5, the ledger counts 10", "quantity": "10"}


@pytest.fixture
def sent(monkeypatch):
    """What the Telegram outbox and the webhooks were asked to send."""
    calls = {"telegram": [], "webhook": []}
    monkeypatch.setattr(outbox, "alert_enqueue", lambda **kw: calls["telegram"].append(kw))
    monkeypatch.setattr(webhooks, "webhook_enqueue", lambda **kw: calls["webhook"].append(kw) or 1)
    return calls


def publish(user, event, payload, capture):
    with capture(execute=True):
        events.publish(user_id=user.pk, event=event, payload=payload)


def test_it_is_registered_as_a_route():
    assert routing.route in events.ROUTES


@pytest.mark.django_db
def test_a_fill_becomes_a_notification_a_telegram_alert_and_a_webhook(user, sent, django_capture_on_commit_callbacks):
    user.language = "en"
    user.save()
    publish(user, "order.filled", FILL, django_capture_on_commit_callbacks)
    row = Notification.objects.get(owner=user)
    assert (row.kind, row.event, row.title, row.link) == ("order_filled", "order.filled", "Order filled: 005930",
                                                           "/trading/orders/7/")
    assert len(sent["telegram"]) == 1
    alert = sent["telegram"][0]
    assert alert["user"] == user and alert["coalesce_key"] == "fills" and alert["not_before"] is None
    assert alert["notification"] == row and alert["text"].startswith("Order filled: 005930")
    assert sent["webhook"] == [{"user": user, "kind": "order_filled", "event": "order.filled", "payload": FILL}]
    assert mail.outbox == []  # fills are not emailed by default


@pytest.mark.django_db
def test_events_not_worth_keeping_leave_nothing(user, sent, django_capture_on_commit_callbacks):
    publish(user, "order.submitting", FILL, django_capture_on_commit_callbacks)
    assert not Notification.objects.exists() and sent == {"telegram": [], "webhook": []}


@pytest.mark.django_db
def test_a_critical_event_goes_to_every_channel_by_default(user, sent, django_capture_on_commit_callbacks):
    publish(user, "position.mismatch", MISMATCH, django_capture_on_commit_callbacks)
    assert Notification.objects.get(owner=user).level == "critical"
    assert len(sent["telegram"]) == 1 and len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]


@pytest.mark.django_db
def test_preferences_are_honoured(user, sent, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(owner=user, kind="order_filled", in_app=False, telegram=False, email=True)
    publish(user, "order.filled", FILL, django_capture_on_commit_callbacks)
    assert not Notification.objects.exists() and sent["telegram"] == []
    assert len(mail.outbox) == 1
    assert len(sent["webhook"]) == 1  # the endpoint chooses its kinds, not the preferences


@pytest.mark.django_db
def test_a_failing_channel_does_not_stop_the_others(user, monkeypatch, django_capture_on_commit_callbacks):
    def broken(**kwargs):
        raise ConnectionError("telegram is down")

    hooks = []
    monkeypatch.setattr(outbox, "alert_enqueue", broken)
    monkeypatch.setattr(webhooks, "webhook_enqueue", lambda **kw: hooks.append(kw) or 1)
    publish(user, "position.mismatch", MISMATCH, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(owner=user).count() == 1
    assert len(mail.outbox) == 1 and len(hooks) == 1


@pytest.mark.django_db
def test_channels_not_built_yet_are_skipped(user, monkeypatch, django_capture_on_commit_callbacks):
    def missing(**kwargs):
        raise NotImplementedError

    monkeypatch.setattr(outbox, "alert_enqueue", missing)
    monkeypatch.setattr(webhooks, "webhook_enqueue", missing)
    publish(user, "position.mismatch", MISMATCH, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(owner=user).count() == 1 and len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_the_unread_count_is_pushed_to_the_users_socket(user, sent):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user.pk), channel)
    Notification.objects.create(owner=user, event="x", kind="announcement", title="older")
    events.publish(user_id=user.pk, event="order.filled", payload=FILL)  # no transaction: delivered at once
    messages = []

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    while not any(m["event"] == routing.EVENT_UNREAD for m in messages):
        messages.append(async_to_sync(receive)())  # raises TimeoutError when the push never comes
    unread = [m for m in messages if m["event"] == routing.EVENT_UNREAD]
    assert len(unread) == 1, messages
    assert unread[0]["payload"]["unread"] == 2
    assert unread[0]["payload"]["notification"]["kind"] == "order_filled"


# -- quiet hours -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "end", "now", "until"), [
    ("22:00", "07:00", "23:30", "2026-03-03 07:00"),  # spans midnight, before it
    ("22:00", "07:00", "06:59", "2026-03-02 07:00"),  # spans midnight, after it
    ("22:00", "07:00", "07:00", None),
    ("22:00", "07:00", "12:00", None),
    ("12:00", "14:00", "13:00", "2026-03-02 14:00"),
    ("12:00", "14:00", "14:30", None),
    ("12:00", "12:00", "12:00", None),
])
def test_quiet_hours(start, end, now, until):
    def clock(text):
        return dt.time.fromisoformat(text)

    local = dt.datetime.combine(dt.date(2026, 3, 2), clock(now), tzinfo=SEOUL)
    got = routing.quiet_until(start=clock(start), end=clock(end), now_local=local)
    expected = dt.datetime.fromisoformat(until).replace(tzinfo=SEOUL) if until else None
    assert got == expected


@pytest.fixture
def quiet_now(user, monkeypatch):
    """Alice (Seoul) keeps quiet 22:00-07:00; it is 23:00 in Seoul."""
    NotificationSettings.objects.create(owner=user, quiet_start=dt.time(22), quiet_end=dt.time(7))
    now = dt.datetime(2026, 3, 2, 23, 0, tzinfo=SEOUL)
    monkeypatch.setattr(routing.timezone, "now", lambda: now.astimezone(dt.UTC))
    return now


@pytest.mark.django_db
def test_quiet_hours_hold_back_a_fill_until_they_end(user, sent, quiet_now, django_capture_on_commit_callbacks):
    publish(user, "order.filled", FILL, django_capture_on_commit_callbacks)
    assert sent["telegram"][0]["not_before"] == dt.datetime(2026, 3, 3, 7, 0, tzinfo=SEOUL)
    assert Notification.objects.filter(owner=user).count() == 1  # the centre keeps it at once


@pytest.mark.django_db
def test_a_critical_alert_passes_quiet_hours(user, sent, quiet_now, django_capture_on_commit_callbacks):
    publish(user, "position.mismatch", MISMATCH, django_capture_on_commit_callbacks)
    assert sent["telegram"][0]["not_before"] is None
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_quiet_hours_follow_the_users_time_zone(user, sent, quiet_now, django_capture_on_commit_callbacks):
    user.timezone = "Europe/London"  # 14:00 there: not quiet
    user.save()
    publish(user, "order.filled", FILL, django_capture_on_commit_callbacks)
    assert sent["telegram"][0]["not_before"] is None


@pytest.mark.django_db
def test_notification_send_routes_like_a_published_event(user, sent):
    row = routing.notification_send(user=user, event="announcement.published",
                                    payload={"id": 1, "title": "Maintenance", "body": "Sunday", "link": "/"})
    assert row.kind == "announcement" and row.title == "Maintenance"
    assert routing.notification_send(user=user, event="order.new", payload=FILL) is None


@pytest.mark.django_db
def test_a_failing_account_is_told_once_until_it_recovers(user, sent, django_capture_on_commit_callbacks):
    failed = {"account_id": 3, "nickname": "KIS", "reason": "bad key"}
    for _ in range(3):  # the hourly check
        publish(user, "broker.verification_failed", failed, django_capture_on_commit_callbacks)
    publish(user, "broker.verification_failed", {**failed, "account_id": 4}, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(owner=user, kind="broker_failed").count() == 2
    assert len(sent["telegram"]) == 2 and len(mail.outbox) == 0  # no email by default (the account service sends one)
    publish(user, "broker.verified", {"account_id": 3}, django_capture_on_commit_callbacks)
    publish(user, "broker.verification_failed", failed, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(owner=user, kind="broker_failed").count() == 3


@pytest.mark.django_db
def test_with_the_real_outbox_a_held_fill_is_queued_for_the_end_of_quiet_hours(user, quiet_now, monkeypatch,
                                                                               django_capture_on_commit_callbacks):
    from notifications.models import TelegramLink, TelegramMessage

    monkeypatch.setattr(webhooks, "webhook_enqueue", lambda **kw: 0)
    TelegramLink.objects.create(owner=user, chat_id=4242, username="alice")
    publish(user, "order.filled", FILL, django_capture_on_commit_callbacks)
    message = TelegramMessage.objects.get(chat_id=4242)
    assert message.coalesce_key == "fills" and message.notification == Notification.objects.get(owner=user)
    assert message.not_before == dt.datetime(2026, 3, 3, 7, 0, tzinfo=SEOUL)
