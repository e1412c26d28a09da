"""Email: a notification by email in the user's language, held through quiet hours, and the daily digest."""

import datetime as dt
import zoneinfo

import pytest
from django.core import mail

from notifications import centre_services, emails, outbox, routing, webhooks
from notifications.centre_tasks import centre_periodic
from notifications.models import Notification, NotificationPreference, NotificationSettings
from notifications.tests.centre_factories import notification

pytestmark = pytest.mark.django_db
SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
FILL = {"id": 7, "symbol": "005930", "side": "buy", "quantity": "10", "filled_quantity": "10",
        "average_fill_price": "71000", "state": "filled", "reason": ""}


@pytest.fixture(autouse=True)
def _no_telegram_or_webhooks(monkeypatch):
    calls = []
    monkeypatch.setattr(outbox, "alert_enqueue", lambda **kw: calls.append(kw))
    monkeypatch.setattr(webhooks, "webhook_enqueue", lambda **kw: 0)
    return calls


@pytest.mark.parametrize(("language", "side"), [("en", "Buy 005930"), ("ko", "매수 005930")])
def test_a_fill_by_email_in_the_users_language(user, language, side, django_capture_on_commit_callbacks):
    user.language = language
    user.save()
    NotificationPreference.objects.create(owner=user, kind="order_filled", in_app=True, telegram=False, email=True)
    with django_capture_on_commit_callbacks(execute=True):
        routing.notification_send(user=user, event="order.filled", payload=FILL)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert "005930" in message.subject
    assert side in message.body and "http://" in message.body and "/trading/orders/7/" in message.body
    html = message.alternatives[0][0]
    assert f'<html lang="{language}">' in html and side in html


def test_nothing_is_sent_when_the_transaction_rolls_back(user):
    from django.db import transaction

    NotificationPreference.objects.create(owner=user, kind="order_filled", email=True)
    with pytest.raises(RuntimeError), transaction.atomic():
        routing.notification_send(user=user, event="order.filled", payload=FILL)
        raise RuntimeError
    assert mail.outbox == []


@pytest.fixture
def quiet(user, monkeypatch):
    """Alice keeps quiet 22:00-07:00 in Seoul; it is 23:00 there."""
    NotificationSettings.objects.create(owner=user, quiet_start=dt.time(22), quiet_end=dt.time(7))
    now = dt.datetime(2026, 3, 2, 23, 0, tzinfo=SEOUL)
    monkeypatch.setattr(routing.timezone, "now", lambda: now.astimezone(dt.UTC))
    return now


def test_an_email_in_quiet_hours_waits_until_they_end(user, quiet, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(owner=user, kind="order_filled", email=True)
    with django_capture_on_commit_callbacks(execute=True):
        row = routing.notification_send(user=user, event="order.filled", payload=FILL)
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.held_emails_send(now=dt.datetime(2026, 3, 3, 6, 59, tzinfo=SEOUL)) == 0
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        assert emails.held_emails_send(now=dt.datetime(2026, 3, 3, 7, 0, tzinfo=SEOUL)) == 1
        assert emails.held_emails_send(now=dt.datetime(2026, 3, 3, 7, 10, tzinfo=SEOUL)) == 0  # once
    assert len(mail.outbox) == 1 and "005930" in mail.outbox[0].subject
    row.refresh_from_db()
    assert emails.EMAIL_DUE not in row.payload


def test_a_critical_email_passes_quiet_hours(user, quiet, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        routing.notification_send(user=user, event="killswitch.pulled", payload={"reason": "panic"})
    assert len(mail.outbox) == 1


# -- the digest --------------------------------------------------------------------------------------
@pytest.fixture
def digest_user(user):
    NotificationSettings.objects.create(owner=user, digest_daily=True, digest_hour=18)
    return user


def _at(day, hour, minute=0):
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=SEOUL)


def _made_at(row, moment):
    Notification.objects.filter(pk=row.pk).update(created_at=moment)


@pytest.mark.parametrize(("language", "lang"), [("en", "en"), ("ko", "ko")])
def test_the_digest_lists_the_days_notifications(digest_user, other_user, language, lang,
                                                 django_capture_on_commit_callbacks):
    digest_user.language = language
    digest_user.save()
    _made_at(notification(digest_user, title="today's fill"), _at(2, 9))
    _made_at(notification(digest_user, title="yesterday's fill"), _at(1, 20))
    _made_at(notification(other_user, title="bob's fill"), _at(2, 9))
    with django_capture_on_commit_callbacks(execute=True):
        assert centre_services.digests_send(now=_at(2, 18, 5)) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [digest_user.email]
    assert "today's fill" in message.body and "yesterday's fill" not in message.body and "bob's" not in message.body
    assert "09:00" in message.body  # in Seoul time
    assert f'<html lang="{lang}">' in message.alternatives[0][0]
    assert NotificationSettings.objects.get(owner=digest_user).digest_sent_on == dt.date(2026, 3, 2)


def test_the_digest_goes_once_a_day_at_the_users_hour(digest_user, django_capture_on_commit_callbacks):
    _made_at(notification(digest_user, title="a fill"), _at(2, 9))
    with django_capture_on_commit_callbacks(execute=True):
        assert centre_services.digests_send(now=_at(2, 17, 50)) == 0
        assert centre_services.digests_send(now=_at(2, 18, 0)) == 1
        assert centre_services.digests_send(now=_at(2, 18, 30)) == 0
    assert len(mail.outbox) == 1


def test_no_digest_when_it_is_off_or_the_day_was_empty(user, digest_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert centre_services.digests_send(now=_at(2, 18)) == 0
    assert mail.outbox == []
    NotificationSettings.objects.filter(owner=user).update(digest_daily=False, digest_sent_on=None)
    _made_at(notification(user), _at(2, 9))
    with django_capture_on_commit_callbacks(execute=True):
        assert centre_services.digests_send(now=_at(2, 18)) == 0
    assert mail.outbox == []


def test_the_digest_goes_to_telegram_when_chosen(digest_user, _no_telegram_or_webhooks,
                                                 django_capture_on_commit_callbacks):
    _made_at(notification(digest_user, title="a fill"), _at(2, 9))
    with django_capture_on_commit_callbacks(execute=True):
        centre_services.digests_send(now=_at(2, 18))
    (call,) = _no_telegram_or_webhooks
    assert call["kind"] == "digest" and "a fill" in call["text"] and call["user"] == digest_user


def test_no_telegram_digest_when_no_kind_uses_telegram(digest_user, _no_telegram_or_webhooks,
                                                       django_capture_on_commit_callbacks):
    for key in ("order_filled", "order_rejected", "deployment_paused", "order_unknown", "position_mismatch",
                "killswitch", "deployment_halted", "broker_failed", "token_problem"):
        NotificationPreference.objects.create(owner=digest_user, kind=key, telegram=False)
    _made_at(notification(digest_user, title="a fill"), _at(2, 9))
    with django_capture_on_commit_callbacks(execute=True):
        centre_services.digests_send(now=_at(2, 18))
    assert _no_telegram_or_webhooks == [] and len(mail.outbox) == 1


def test_the_periodic_task_runs_both(digest_user, monkeypatch):
    monkeypatch.setattr(centre_services, "digests_send", lambda: 2)
    monkeypatch.setattr(emails, "held_emails_send", lambda: 3)
    assert centre_periodic.run() == {"held_emails": 3, "digests": 2}


def test_a_mail_server_failing_is_logged_and_stops_nothing(user, monkeypatch, _no_telegram_or_webhooks,
                                                           django_capture_on_commit_callbacks):
    from django.core.mail import EmailMultiAlternatives

    def refused(self, fail_silently=False):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refused)
    with django_capture_on_commit_callbacks(execute=True):
        row = routing.notification_send(user=user, event="killswitch.pulled", payload={"reason": "panic"})
    assert Notification.objects.filter(pk=row.pk).exists() and len(_no_telegram_or_webhooks) == 1
