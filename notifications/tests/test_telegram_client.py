"""The Bot API client against the fake Bot API over real HTTP: answers, error families, no token leaks."""

from __future__ import annotations

import logging
import time

import pytest

from notifications.fakes.telegram_server import FakeTelegram, callback_update, message_update
from notifications.telegram import TelegramClient, TelegramError

CHAT = 555_001


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def bot(fake):
    client = TelegramClient(fake.url, fake.token, 5.0)
    yield client
    client.close()


def test_send_message_returns_the_message_and_the_fake_records_it(fake, bot):
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    result = bot.send_message(CHAT, "체결: 삼성전자 10주", reply_markup=markup)
    assert result["message_id"] > 0
    [sent] = fake.messages(CHAT)
    assert (sent.text, sent.reply_markup, sent.message_id) == ("체결: 삼성전자 10주", markup, result["message_id"])


def test_edit_and_answer_callback(fake, bot):
    sent = bot.send_message(CHAT, "Pause all?")
    bot.edit_message_text(CHAT, sent["message_id"], "Paused.")
    bot.answer_callback_query("q1", "Done")
    assert fake.edits[0]["text"] == "Paused." and fake.callback_answers == [{"callback_query_id": "q1", "text": "Done"}]
    with pytest.raises(TelegramError) as caught:
        bot.edit_message_text(CHAT, 999_999_999, "x")
    assert caught.value.permanent and caught.value.status == 400


def test_get_me(fake, bot):
    assert bot.get_me()["username"] == fake.username


def test_get_updates_serves_by_offset_and_waits_briefly(fake, bot):
    first = fake.push_update(message_update(CHAT, "/start abc", "alice"))
    assert first is None  # queued: no webhook
    fake.push_update(callback_update(CHAT, "kill:yes", 42))
    updates = bot.get_updates()
    assert [("message" in u, "callback_query" in u) for u in updates] == [(True, False), (False, True)]
    assert updates[0]["message"]["text"] == "/start abc"
    assert updates[1]["callback_query"]["data"] == "kill:yes"
    # confirming with offset drops them; an empty long poll waits (cut short by the fake) and returns []
    started = time.monotonic()
    assert bot.get_updates(offset=updates[-1]["update_id"] + 1, timeout=5) == []
    assert 0.5 <= time.monotonic() - started < 4
    assert fake.pending_updates() == 0


def test_webhook_is_remembered_and_blocks_get_updates(fake, bot):
    bot.set_webhook("https://example.com/hook", "s3cret")
    assert (fake.webhook_url, fake.webhook_secret) == ("https://example.com/hook", "s3cret")
    with pytest.raises(TelegramError) as caught:
        bot.get_updates()
    assert caught.value.status == 409
    bot.delete_webhook()
    assert fake.webhook_url == ""


def test_too_many_requests_carries_retry_after(fake, bot):
    bot.send_message(CHAT, "one")
    with pytest.raises(TelegramError) as caught:
        bot.send_message(CHAT, "two")  # within a second of the first: the fake's per-chat limit
    assert caught.value.status == 429 and caught.value.retry_after == 1 and not caught.value.permanent
    assert fake.texts(CHAT) == ["one"]


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (502, False), (400, True), (403, True)])
def test_error_families(fake, bot, status, permanent):
    fake.fail_next("sendMessage", status)
    with pytest.raises(TelegramError) as caught:
        bot.send_message(CHAT, "x")
    assert (caught.value.status, caught.value.permanent, caught.value.retry_after) == (status, permanent, None)


def test_blocked_chat_is_permanent_403(fake, bot):
    fake.block(CHAT)
    with pytest.raises(TelegramError) as caught:
        bot.send_message(CHAT, "x")
    assert caught.value.permanent and caught.value.blocked
    assert "blocked" in caught.value.description


def test_a_reset_connection_is_temporary(fake, bot):
    fake.fail_next("sendMessage", "reset")
    with pytest.raises(TelegramError) as caught:
        bot.send_message(CHAT, "x")
    assert not caught.value.permanent and caught.value.status == 0


def test_a_wrong_token_is_permanent_and_never_quoted(fake, caplog):
    wrong = "999999:WRONG-secret-token-value"
    client = TelegramClient(fake.url, wrong, 5.0)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(TelegramError) as caught:
            client.send_message(CHAT, "x")
    assert caught.value.status == 401 and caught.value.permanent
    assert wrong not in str(caught.value) and wrong not in repr(caught.value) and wrong not in repr(client)
    assert "WRONG-secret" not in caplog.text


def test_the_token_is_not_in_httpx_logs_nor_in_network_errors(fake, caplog):
    client = TelegramClient(fake.url, fake.token, 5.0)
    with caplog.at_level(logging.DEBUG, logger="httpx"):
        client.get_me()
    assert "getMe" in caplog.text and "/bot***/getMe" in caplog.text
    assert fake.token not in caplog.text
    unreachable = TelegramClient("http://127.0.0.1:9", fake.token, 2.0)
    with pytest.raises(TelegramError) as caught:
        unreachable.get_me()
    assert not caught.value.permanent
    assert fake.token not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
