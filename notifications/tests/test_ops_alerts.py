"""Operators' alerts: the staff Telegram chat (over real HTTP to the fake Bot API) and email,
deduplicated; the events that raise them; the queue backlog check."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail

from accounts.tests.factories import UserFactory
from core import events
from core.audit import Actor
from core.events import Event
from notifications import ops
from notifications.models.feedback import FeedbackReport
from notifications.models.telegram import TelegramMessage
from notifications.telegram_delivery import chat_flush
from notifications.tests.tgdelivery_support import OPS_CHAT, fake_telegram

__all__ = ["fake_telegram"]

OPS_EMAILS = ["ops@quantk.example", "oncall@quantk.example"]


@pytest.fixture
def ops_channels(settings, fake_telegram, monkeypatch):
    settings.OPS_TELEGRAM_CHAT_ID = OPS_CHAT
    settings.OPS_ALERT_EMAILS = OPS_EMAILS
    monkeypatch.setattr("notifications.outbox.flush_schedule", lambda **kwargs: None)
    return fake_telegram


def staff_texts(fake) -> list[str]:
    chat_flush(chat_id=OPS_CHAT)
    return fake.texts(OPS_CHAT)


@pytest.mark.django_db
def test_a_p0_report_reaches_the_staff_chat_and_the_operators_mailboxes_once(ops_channels,
                                                                              django_capture_on_commit_callbacks):
    from notifications import feedback_services

    reporter, operator = UserFactory(), UserFactory(is_staff=True)
    report = feedback_services.feedback_submit(user=reporter, what_happened="Every page answers 502\nsince 9:00",
                                               page_url="https://quantk.example/")
    for _ in range(2):  # the triage saved again as P0 (same severity): one alert
        with django_capture_on_commit_callbacks(execute=True):
            report = feedback_services.feedback_triage(
                actor=Actor.of_admin(operator), report=report, severity="P0", category=report.category or "",
                assignee=None, status=FeedbackReport.Status.TRIAGED, internal_notes=str(uuid.uuid4()), answer="")
    [text] = staff_texts(ops_channels)
    assert f"P0 feedback #{report.pk}" in text and "Every page answers 502" in text
    assert f"/admin/notifications/feedbackreport/{report.pk}/change/" in text
    [email] = mail.outbox
    assert email.to == OPS_EMAILS and f"P0 feedback #{report.pk}" in email.subject
    assert "Every page answers 502" in email.body
    assert TelegramMessage.objects.get().kind == TelegramMessage.Kind.STAFF


@pytest.mark.django_db
def test_ops_alert_is_deduplicated_by_key_for_a_quarter_hour(ops_channels, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert ops.ops_alert(key="disk", title="Disk 95 % full", body="db host", link="/admin/") is True
        assert ops.ops_alert(key="disk", title="Disk 95 % full again") is False
        assert ops.ops_alert(key="other", title="Something else") is True
    assert staff_texts(ops_channels) == [
        "[퀀트K ops] Disk 95 % full\ndb host\nhttp://127.0.0.1:8000/admin/", "[퀀트K ops] Something else"]
    assert [m.subject for m in mail.outbox] == ["[퀀트K ops] Disk 95 % full", "[퀀트K ops] Something else"]


@pytest.mark.django_db
def test_without_an_operators_channel_nothing_is_sent(settings):
    settings.OPS_TELEGRAM_CHAT_ID, settings.OPS_ALERT_EMAILS = 0, []
    assert ops.ops_alert(key="x", title="nobody listens") is False
    assert not TelegramMessage.objects.exists() and mail.outbox == []


@pytest.mark.django_db
def test_email_only_when_no_staff_chat(settings, django_capture_on_commit_callbacks):
    settings.OPS_TELEGRAM_CHAT_ID, settings.OPS_ALERT_EMAILS = 0, OPS_EMAILS
    with django_capture_on_commit_callbacks(execute=True):
        assert ops.ops_alert(key="x", title="mail only") is True
    assert not TelegramMessage.objects.exists() and len(mail.outbox) == 1


# -- events -> alerts --------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_position_mismatch_alerts_the_operators(ops_channels, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ops.ops_route(Event(user_id=7, name="position.mismatch",
                            payload={"account_id": 3, "symbol": "005930", "note": "10 here, 9 at the broker"}))
    [text] = staff_texts(ops_channels)
    assert "Position mismatch: account 3 005930 (user 7)" in text and "10 here, 9 at the broker" in text


@pytest.mark.django_db
def test_a_deployment_halted_by_an_error_alerts_but_not_one_halted_by_a_rule(ops_channels,
                                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ops.ops_route(Event(user_id=7, name="deployment.halted",
                            payload={"id": 11, "state_code": "daily_loss", "state_reason": "lost 3 %"}))
        ops.ops_route(Event(user_id=7, name="deployment.halted",
                            payload={"id": 12, "state_code": "admin", "state_reason": "halted by staff"}))
        ops.ops_route(Event(user_id=7, name="deployment.halted",
                            payload={"id": 13, "state_code": "broker_error", "state_reason": "KIS answered 500 x5"}))
    [text] = staff_texts(ops_channels)
    assert "Deployment 13 halted by an error (broker_error" in text and "KIS answered 500 x5" in text


@pytest.mark.django_db
def test_a_broker_failing_for_many_users_within_ten_minutes_alerts_once(ops_channels, settings,
                                                                        django_capture_on_commit_callbacks):
    settings.OPS_BROKER_FAILING_USERS = 3

    def failed(user_id: int, broker: str = "kis") -> None:
        ops.ops_route(Event(user_id=user_id, name="broker.verification_failed",
                            payload={"broker": broker, "reason": "EGW00105 wrong secret"}))

    with django_capture_on_commit_callbacks(execute=True):
        for user_id in (1, 1, 1, 2, 2):  # the same users again: still two
            failed(user_id)
        failed(9, broker="kiwoom")  # another broker counts apart
        assert not TelegramMessage.objects.exists()
        failed(3)
        failed(4)  # past the threshold: already alerted
    [text] = staff_texts(ops_channels)
    assert "Broker kis: credentials failing for 3 users within 10 minutes" in text
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_broker_failures_older_than_ten_minutes_fall_out_of_the_count():
    start = 1_800_000_000.0
    assert ops.broker_failing_users(broker="kis", user_id=1, now=start) == 1
    assert ops.broker_failing_users(broker="kis", user_id=2, now=start + 60) == 2
    assert ops.broker_failing_users(broker="kis", user_id=3, now=start + 10 * 60) == 2  # the first minute left the window


def test_register_adds_the_route_once(monkeypatch):
    monkeypatch.setattr(events, "ROUTES", [])
    ops.register()
    ops.register()
    assert events.ROUTES == [ops.ops_route]


# -- the queue ---------------------------------------------------------------------------------
def test_the_queue_check_skips_the_embedded_broker(settings):
    settings.CELERY_BROKER_URL = "memory://localhost/"
    assert ops.queue_backlog_check() is None


@pytest.mark.django_db
def test_a_queue_backing_up_alerts_the_operators(settings, ops_channels, django_capture_on_commit_callbacks):
    import redis

    url = "redis://127.0.0.1:6379/12"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    queue = f"ops-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BROKER_URL, settings.OPS_QUEUE_BACKLOG = url, 20
    try:
        client.rpush(queue, *[b"task"] * 20)
        with django_capture_on_commit_callbacks(execute=True):
            assert ops.queue_backlog_check(queue=queue) == 20  # at the limit: quiet
            client.rpush(queue, b"task")
            assert ops.queue_backlog_check(queue=queue) == 21
    finally:
        client.delete(queue)
        client.close()
    [text] = staff_texts(ops_channels)
    assert f"Celery queue '{queue}' backing up: 21 tasks waiting" in text
