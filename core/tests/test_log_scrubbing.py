"""No secret in any log line of a full trading flow: every logger at DEBUG (SQL, httpx, the
brokers, Celery, notifications) while alice connects a KIS account (known key and secret, verified
with a token), places an order that fills, and her fill goes to Telegram (a known bot token) and to
her webhook (a known secret). The same lines written unscrubbed do carry the secrets (the scan can
fail), scrubbed in both formats they do not.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.db import connection

from core.audit import Actor
from core.logging.json_format import JsonFormatter
from core.logging.scrub import ScrubFilter
from notifications import outbox, webhook_delivery, webhook_services, webhook_tasks
from notifications.fakes.telegram_server import FakeTelegram
from notifications.models.telegram import TelegramLink
from notifications.telegram_delivery import chat_flush
from notifications.tests.webhook_receiver import Receiver
from trading.orders import reconcile, services
from core.logging.scrub import scrub_data, scrub_text
from trading import services as account_services
from trading.orders.tests.conftest import kis, morning, new_order, no_jobs

__all__ = ["kis", "morning", "no_jobs"]  # fixtures
BOT_TOKEN = "7012345678:AAHq3-Zx_9fKpLm2VbN8sT4uWyE6rJd1cGo"
KEY = "PSconn9KEY" + "q" * 26  # KIS: 36 and 180 characters
SECRET = "conn-Secret-" + "Z9y" * 56
ACCOUNT, ACCOUNT_DIGITS = "50765432-01", "5076543201"
CHAT = 810_077
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@pytest.fixture
def logs():
    """Every record of every logger at DEBUG, written three ways: raw, plain and JSON (scrubbed)."""
    streams = {name: io.StringIO() for name in ("raw", "plain", "json")}
    handlers = []
    for name, stream in streams.items():  # raw first: a scrub filter rewrites the record it sees
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter() if name == "json" else logging.Formatter(PLAIN))
        if name != "raw":
            handler.addFilter(ScrubFilter())
        handlers.append(handler)
    root = logging.getLogger()
    levels = {name: log.level for name, log in logging.root.manager.loggerDict.items()
              if isinstance(log, logging.Logger)}
    before = root.level
    for name in levels:
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.DEBUG)
    root.handlers[0:0] = handlers  # before the configured handler, whose scrub filter rewrites the records
    connection.force_debug_cursor = True  # SQL and its parameters (the account number) too
    yield streams
    connection.force_debug_cursor = False
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(before)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.django_db
def test_a_full_trading_flow_logs_no_key_token_secret_or_account_number(
        kis, no_jobs, logs, settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(outbox, "flush_schedule", lambda *, chat_id, countdown=0.0: chat_flush(chat_id=chat_id))
    queued: list[int] = []
    monkeypatch.setattr(webhook_tasks.webhook_deliver, "delay", lambda **kw: queued.append(kw["delivery_id"]))
    user = kis.account.owner  # alice, with her fixture account on the fake KIS; she connects another
    TelegramLink.objects.create(owner=user, chat_id=CHAT, username="alice")
    with FakeTelegram(token=BOT_TOKEN) as telegram, Receiver([200]) as receiver:
        settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN = telegram.url, BOT_TOKEN
        _endpoint, hook_secret = webhook_services.webhook_create(actor=Actor.of_user(user), owner=user,
                                                                url=receiver.url, events=["order_filled"])
        kis.fake.add_account(KEY, SECRET, ACCOUNT, environment="mock", cash=5_000_000)
        account = account_services.broker_account_connect(  # verified at the broker: a token, the balance
            actor=Actor.of_user(user), owner=user, broker="kis", environment="mock", account_no=ACCOUNT,
            app_key=KEY, app_secret=SECRET, nickname="KIS")
        order = services.order_submit(order_id=new_order(account).pk)  # the order placed
        kis.fake.fill(order.broker_order_no, 3, 70_000)
        with django_capture_on_commit_callbacks(execute=True):
            reconcile.account_reconcile(account=account)  # filled: order.filled to Telegram and the webhook
        for delivery_id in queued:
            webhook_delivery.webhook_delivery_attempt(delivery_id=delivery_id)
        access_token = kis.fake._latest[KEY].value
        # a careless line as someone might write it, and an error with a secret in its text
        logging.getLogger("trading.brokers").debug("headers %s body %s", {
            "authorization": f"Bearer {access_token}", "appkey": KEY, "appsecret": SECRET},
            {"CANO": ACCOUNT_DIGITS[:8], "ACNT_PRDT_CD": "01", "account": ACCOUNT})
        logging.getLogger("trading").info("order for account %s placed", ACCOUNT_DIGITS)
        try:
            raise ValueError(f"signing with {hook_secret} for {telegram.url}/bot{BOT_TOKEN}/sendMessage failed")
        except ValueError:
            logging.getLogger("notifications").exception("webhook %s failed", receiver.url)

    order.refresh_from_db()
    assert order.state == "filled" and telegram.texts(CHAT) and len(receiver.received) == 1
    secrets = {"app key": KEY, "app secret": SECRET, "access token": access_token, "bot token": BOT_TOKEN,
               "webhook secret": hook_secret, "account": ACCOUNT, "account digits": ACCOUNT_DIGITS}
    raw = logs["raw"].getvalue()
    assert {name for name, value in secrets.items() if value in raw} == set(secrets)  # the scan can fail
    for fmt in ("plain", "json"):
        output = logs[fmt].getvalue()
        assert len(output) > 10_000 and "Traceback" in output
        assert [name for name, value in secrets.items() if value in output] == [], fmt
    lines = [json.loads(line) for line in logs["json"].getvalue().splitlines() if line.startswith("{")]
    assert {"time", "level", "logger", "message", "request_id", "user_id", "task", "exception"} <= set(lines[0])
    assert any(line["logger"].startswith("httpx") for line in lines)


@pytest.mark.parametrize(("text", "expected"), [
    ("POST https://api.telegram.org/bot7012345678:AAHq3-Zx_9fKpLm2VbN8sT4u/sendMessage",
     "POST https://api.telegram.org/bot***/sendMessage"),
    ("{'authorization': 'Bearer abc.def-ghi12345', 'approval_key': 'k1'}",
     "{'authorization': '***', 'approval_key': '***'}"),
    ('{"appkey":"PSx","secretkey":"s","grant_type":"client_credentials"}',
     '{"appkey":"***","secretkey":"***","grant_type":"client_credentials"}'),
    ("GET /x?app_key=abc&symbol=005930&password=hunter2", "GET /x?app_key=***&symbol=005930&password=***"),
    ("X-Telegram-Bot-Api-Secret-Token: abcdefgh", "X-Telegram-Bot-Api-Secret-Token: ***"),
    ("account 50123456-01 / 5012345601, order 0000012345 at 1764000000.5",
     "account ******56-01 / ******5601, order 0000012345 at 1764000000.5"),
    ("request 3f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c by alice@example.com",
     "request 3f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c by alice@example.com"),
    ("key AbcDEF0123456789abcdefGHIJ012345xyz", "key ***"),
])
def test_the_scrubber_masks_each_shape_of_secret_and_keeps_the_rest(text, expected):
    assert scrub_text(text) == expected == scrub_text(expected)


def test_nested_data_loses_the_values_of_secret_named_keys():
    event = {"request": {"headers": {"Authorization": "Basic x", "Accept": "*/*"}, "data": {"password": 5}},
             "extra": ["bot7012345678:AAHq3-Zx_9fKpLm2VbN8"]}
    assert scrub_data(event) == {"request": {"headers": {"Authorization": "***", "Accept": "*/*"},
                                             "data": {"password": "***"}}, "extra": ["bot***"]}
