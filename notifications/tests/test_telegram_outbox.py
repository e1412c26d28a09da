"""The Telegram outbox against the fake Bot API over real HTTP: Telegram's pace, coalescing, retries,
failures, and never a message twice."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from contextlib import contextmanager

import pytest
from django.utils import timezone

from notifications import outbox, telegram_delivery
from notifications.models.telegram import TelegramMessage
from notifications.outbox import alert_enqueue, reply_enqueue
from notifications.telegram import TEXT_LIMIT
from notifications.telegram_delivery import chat_flush, due_sweep, message_claim
from notifications.tests.tgdelivery_support import CHAT, OTHER_CHAT, fake_telegram, gaps, in_thread, linked_user

__all__ = ["fake_telegram"]  # the fixture, imported for pytest

State = TelegramMessage.State


def fill_text(i: int) -> str:
    return (f"Order filled: A{i:03d}\nBuy A{i:03d}: 1 of 1 filled at an average of 70,100.\n"
            f"https://quantk.example/trading/orders/{i}/")


def mentioned(texts: list[str]) -> list[str]:
    """The fills each message names (once per message)."""
    return [name for text in texts for name in sorted(set(re.findall(r"A\d{3}", text)))]


@pytest.fixture
def no_flush_tasks(monkeypatch):
    """The on-commit flush tasks are not enqueued (tests call the flush themselves); records them."""
    scheduled: list[tuple[int, float]] = []
    monkeypatch.setattr(outbox, "flush_schedule", lambda *, chat_id, countdown=0.0: scheduled.append((chat_id, countdown)))
    monkeypatch.setattr(telegram_delivery, "flush_schedule",
                        lambda *, chat_id, countdown=0.0: scheduled.append((chat_id, countdown)))
    return scheduled


def quick_pace(fake, settings, seconds: float = 0.2) -> None:
    """A shorter per-chat pace, enforced by the fake all the same (tests that are not about the pace)."""
    fake.chat_interval = seconds
    settings.TELEGRAM_CHAT_SECONDS_PER_MESSAGE = seconds


# -- the pace and coalescing ---------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_50_fills_is_coalesced_and_never_faster_than_one_a_second_to_the_chat(fake_telegram, monkeypatch):
    user = linked_user()
    workers: list[threading.Thread] = []

    # every enqueue's on-commit flush runs at once in a worker of its own, as busy Celery workers would
    def flush_now(*, chat_id: int, countdown: float = 0.0) -> None:
        workers.append(in_thread(lambda: chat_flush(chat_id=chat_id)))

    monkeypatch.setattr(outbox, "flush_schedule", flush_now)
    for i in range(50):  # fills arriving together, over about 2.5 s
        alert_enqueue(user=user, text=fill_text(i), coalesce_key="fills")
        time.sleep(0.05)
    for worker in list(workers):
        worker.join(60)

    sent = fake_telegram.messages(CHAT)
    assert fake_telegram.refusals == []  # the fake never had to answer 429
    assert all(gap >= 1.0 for gap in gaps([m.at for m in sent])), gaps([m.at for m in sent])
    assert 2 <= len(sent) <= 6  # coalesced: a handful of messages, not 50
    assert sorted(mentioned([m.text for m in sent])) == [f"A{i:03d}" for i in range(50)]  # each fill once
    assert any(m.text.startswith("Fills: ") for m in sent)
    states = list(TelegramMessage.objects.filter(chat_id=CHAT).values_list("state", flat=True))
    assert states.count(State.SENT) == len(sent) and states.count(State.MERGED) == 50 - len(sent)


@pytest.mark.django_db
def test_a_merged_message_stays_within_telegrams_length_and_the_rest_follows(fake_telegram, settings, no_flush_tasks):
    quick_pace(fake_telegram, settings)
    user = linked_user()
    for i in range(60):
        alert_enqueue(user=user, text=f"Order filled: A{i:03d}\nBuy A{i:03d}: " + "x" * 150, coalesce_key="fills")
    result = chat_flush(chat_id=CHAT)
    texts = fake_telegram.texts(CHAT)
    assert len(texts) >= 3 and all(len(text) <= TEXT_LIMIT for text in texts)
    assert sorted(mentioned(texts)) == [f"A{i:03d}" for i in range(60)]
    assert (result.sent, result.merged, result.failed) == (len(texts), 60 - len(texts), 0)


@pytest.mark.django_db
def test_alerts_with_other_keys_are_not_merged(fake_telegram, settings, no_flush_tasks):
    quick_pace(fake_telegram, settings)
    user = linked_user()
    alert_enqueue(user=user, text="Kill switch pulled\nEvery deployment stopped.")
    alert_enqueue(user=user, text=fill_text(1), coalesce_key="fills")
    alert_enqueue(user=user, text="Position mismatch\n005930: 10 here, 9 at the broker.")
    chat_flush(chat_id=CHAT)
    assert fake_telegram.texts(CHAT) == ["Kill switch pulled\nEvery deployment stopped.", fill_text(1).strip(),
                                         "Position mismatch\n005930: 10 here, 9 at the broker."]


@pytest.mark.django_db
def test_answers_to_commands_go_before_queued_alerts(fake_telegram, settings, no_flush_tasks):
    quick_pace(fake_telegram, settings)
    user = linked_user()
    alert_enqueue(user=user, text="alert one")
    alert_enqueue(user=user, text="alert two")
    reply_enqueue(chat_id=CHAT, text="Your positions: none.", owner=user)
    chat_flush(chat_id=CHAT)
    assert fake_telegram.texts(CHAT) == ["Your positions: none.", "alert one", "alert two"]
    assert fake_telegram.refusals == []


@pytest.mark.django_db(transaction=True)
def test_the_global_pace_holds_across_workers_and_chats(fake_telegram, settings, no_flush_tasks):
    settings.TELEGRAM_MESSAGES_PER_SECOND = 25.0
    chats = [CHAT + 100 + i for i in range(40)]
    for chat_id in chats:
        reply_enqueue(chat_id=chat_id, text=f"hello {chat_id}")

    def worker(mine: list[int]) -> None:
        for chat_id in mine:
            chat_flush(chat_id=chat_id)

    threads = [in_thread(lambda mine=chats[i::4]: worker(mine)) for i in range(4)]
    for thread in threads:
        thread.join(60)
    times = sorted(m.at for m in fake_telegram.sent)
    assert len(times) == 40 and fake_telegram.refusals == []
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    # 25 a second are sent (26 where two windows meet); arrivals may bunch a little on a busy machine, but never
    # past Telegram's 30 (unpaced, the 40 arrive within a fraction of a second)
    assert busiest <= 30


# -- retries and failures ----------------------------------------------------------------------
@pytest.mark.django_db
def test_a_flood_wait_is_waited_out_and_the_message_sent_once(fake_telegram, no_flush_tasks):
    user = linked_user()
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)
    message = alert_enqueue(user=user, text="Kill switch pulled")
    result = chat_flush(chat_id=CHAT)
    [refusal] = fake_telegram.refusals
    [sent] = fake_telegram.messages(CHAT)
    assert (refusal.status, refusal.retry_after) == (429, 1)
    assert sent.at - refusal.at >= 1.0 and sent.text == "Kill switch pulled"
    message.refresh_from_db()
    assert (message.state, message.telegram_message_id, result.sent) == (State.SENT, sent.message_id, 1)


@pytest.mark.django_db
def test_a_long_flood_wait_queues_the_message_for_then(fake_telegram, no_flush_tasks):
    user = linked_user()
    fake_telegram.fail_next("sendMessage", 429, retry_after=30)
    message = alert_enqueue(user=user, text="later")
    chat_flush(chat_id=CHAT)
    message.refresh_from_db()
    assert fake_telegram.sent == [] and message.state == State.QUEUED and message.attempts == 0
    assert 25 <= (message.not_before - timezone.now()).total_seconds() <= 31
    assert (CHAT, 30.0) in no_flush_tasks  # its flush is enqueued for then


@pytest.mark.django_db
@pytest.mark.parametrize("fault", [500, "reset"])
def test_a_temporary_error_is_retried_with_back_off(fake_telegram, no_flush_tasks, fault):
    user = linked_user()
    fake_telegram.fail_next("sendMessage", fault)
    message = alert_enqueue(user=user, text="retry me")
    chat_flush(chat_id=CHAT)
    message.refresh_from_db()
    assert (message.state, message.attempts, fake_telegram.sent) == (State.QUEUED, 1, [])
    assert message.not_before > timezone.now() and message.last_error
    chat_flush(chat_id=CHAT)  # not due yet: nothing is sent
    assert fake_telegram.sent == []
    TelegramMessage.objects.filter(pk=message.pk).update(not_before=timezone.now())
    chat_flush(chat_id=CHAT)
    message.refresh_from_db()
    assert fake_telegram.texts(CHAT) == ["retry me"] and (message.state, message.attempts) == (State.SENT, 2)


@pytest.mark.django_db
def test_temporary_errors_give_up_after_the_last_attempt(fake_telegram, no_flush_tasks):
    user = linked_user()
    message = alert_enqueue(user=user, text="doomed")
    TelegramMessage.objects.filter(pk=message.pk).update(attempts=telegram_delivery.MAX_ATTEMPTS - 1)
    fake_telegram.fail_next("sendMessage", 502)
    chat_flush(chat_id=CHAT)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (State.FAILED, telegram_delivery.MAX_ATTEMPTS)
    assert "Bad Gateway" in message.last_error


@pytest.mark.django_db
def test_a_permanent_error_fails_at_once_without_retries(fake_telegram, no_flush_tasks):
    user = linked_user()
    fake_telegram.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    message = alert_enqueue(user=user, text="nobody there")
    chat_flush(chat_id=CHAT)
    chat_flush(chat_id=CHAT)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (State.FAILED, 1) and "chat not found" in message.last_error
    assert fake_telegram.count(f"/bot{fake_telegram.token}/sendMessage") == 1
    assert due_sweep() == []


@pytest.mark.django_db
def test_a_chat_that_blocked_the_bot_fails_its_queued_messages_with_one_request(fake_telegram, no_flush_tasks):
    user = linked_user()
    fake_telegram.block(CHAT)
    for i in range(3):
        alert_enqueue(user=user, text=f"alert {i}")
    result = chat_flush(chat_id=CHAT)
    assert result.failed == 3 and fake_telegram.count(f"/bot{fake_telegram.token}/sendMessage") == 1
    assert set(TelegramMessage.objects.values_list("state", flat=True)) == {State.FAILED}
    assert all("blocked" in e for e in TelegramMessage.objects.values_list("last_error", flat=True))


# -- never twice -------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_two_flushes_at_once_never_send_a_message_twice(fake_telegram, settings, no_flush_tasks):
    quick_pace(fake_telegram, settings)
    user = linked_user()
    for i in range(6):
        alert_enqueue(user=user, text=f"alert {i}")
    start, results = threading.Barrier(2), []

    def flush() -> None:
        start.wait()
        results.append(chat_flush(chat_id=CHAT))

    for thread in [in_thread(flush), in_thread(flush)]:
        thread.join(60)
    assert sorted(fake_telegram.texts(CHAT)) == [f"alert {i}" for i in range(6)]
    assert sum(r.sent for r in results) == 6


@pytest.mark.django_db(transaction=True)
def test_even_without_the_chat_lock_the_claim_sends_each_message_once(fake_telegram, settings, no_flush_tasks,
                                                                     monkeypatch):
    quick_pace(fake_telegram, settings)

    @contextmanager
    def no_lock(chat_id):
        yield True

    monkeypatch.setattr(telegram_delivery, "chat_lock", no_lock)
    user = linked_user()
    for i in range(8):
        alert_enqueue(user=user, text=f"alert {i}")
    start = threading.Barrier(3)

    def flush() -> None:
        start.wait()
        chat_flush(chat_id=CHAT)

    for thread in [in_thread(flush) for _ in range(3)]:
        thread.join(60)
    assert sorted(fake_telegram.texts(CHAT)) == [f"alert {i}" for i in range(8)]
    assert set(TelegramMessage.objects.values_list("state", flat=True)) == {State.SENT}


@pytest.mark.django_db
def test_a_claimed_message_is_not_claimed_again(no_flush_tasks):
    user = linked_user()
    first, second = alert_enqueue(user=user, text="one"), alert_enqueue(user=user, text="two")
    claims = [message_claim(chat_id=CHAT), message_claim(chat_id=CHAT), message_claim(chat_id=CHAT)]
    assert [c.message.pk if c else None for c in claims] == [first.pk, second.pk, None]
    assert set(TelegramMessage.objects.values_list("state", flat=True)) == {State.SENDING}


# -- the queue ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_no_link_no_message_and_long_texts_are_cut(no_flush_tasks):
    from accounts.tests.factories import UserFactory

    assert alert_enqueue(user=UserFactory(), text="hi") is None
    message = alert_enqueue(user=linked_user(), text="y" * 5000)
    assert len(message.text) == TEXT_LIMIT and message.text.endswith("…")


@pytest.mark.django_db
def test_messages_held_for_later_wait_and_the_sweep_finds_them_when_due(fake_telegram, no_flush_tasks):
    user = linked_user()
    held = alert_enqueue(user=user, text="after quiet hours", not_before=timezone.now() + dt.timedelta(hours=1))
    chat_flush(chat_id=CHAT)
    assert fake_telegram.sent == [] and due_sweep() == []
    reply_enqueue(chat_id=OTHER_CHAT, text="lost enqueue")
    TelegramMessage.objects.filter(pk=held.pk).update(not_before=timezone.now() - dt.timedelta(seconds=1))
    assert due_sweep() == sorted([CHAT, OTHER_CHAT])
    chat_flush(chat_id=CHAT)
    assert fake_telegram.texts(CHAT) == ["after quiet hours"]


@pytest.mark.django_db
def test_the_sweep_fails_a_message_stuck_while_sending_and_never_sends_it(fake_telegram, no_flush_tasks):
    user = linked_user()
    stuck = alert_enqueue(user=user, text="worker died")
    TelegramMessage.objects.filter(pk=stuck.pk).update(
        state=State.SENDING, claimed_at=timezone.now() - dt.timedelta(minutes=telegram_delivery.STUCK_MINUTES + 1))
    due_sweep()
    chat_flush(chat_id=CHAT)
    stuck.refresh_from_db()
    assert stuck.state == State.FAILED and fake_telegram.sent == []


@pytest.mark.django_db
def test_without_a_bot_token_nothing_is_sent_and_the_rows_wait(settings, no_flush_tasks):
    settings.TELEGRAM_BOT_TOKEN = ""
    message = alert_enqueue(user=linked_user(), text="waiting")
    assert chat_flush(chat_id=CHAT).sent == 0
    message.refresh_from_db()
    assert message.state == State.QUEUED


@pytest.mark.django_db
def test_the_flush_enqueues_on_commit(django_capture_on_commit_callbacks, no_flush_tasks):
    user = linked_user()
    with django_capture_on_commit_callbacks(execute=True):
        alert_enqueue(user=user, text="now")
        alert_enqueue(user=user, text="later", not_before=timezone.now() + dt.timedelta(minutes=5))
    assert no_flush_tasks[0] == (CHAT, 0.0)
    assert no_flush_tasks[1][0] == CHAT and 290 < no_flush_tasks[1][1] <= 300


@pytest.mark.django_db
def test_a_wrong_bot_token_fails_no_message_they_wait_for_the_fix(fake_telegram, settings, no_flush_tasks):
    user = linked_user()
    settings.TELEGRAM_BOT_TOKEN = "999:not-the-bot"
    message = alert_enqueue(user=user, text="waiting for the token")
    assert chat_flush(chat_id=CHAT).failed == 0
    message.refresh_from_db()
    assert (message.state, message.attempts) == (State.QUEUED, 0) and "Unauthorized" in message.last_error
    assert message.not_before > timezone.now()
    settings.TELEGRAM_BOT_TOKEN = fake_telegram.token
    TelegramMessage.objects.filter(pk=message.pk).update(not_before=None)
    chat_flush(chat_id=CHAT)
    assert fake_telegram.texts(CHAT) == ["waiting for the token"]
