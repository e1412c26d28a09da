"""A fake Telegram Bot API: the paths, JSON, errors and flood limits of the real one, over real HTTP.

``FakeTelegram(token=...)`` serves ``/bot<token>/<method>`` on 127.0.0.1 (a free port) in a thread
(the threaded server of ``trading.fakes.server``). Point ``TELEGRAM_API_URL`` at ``.url`` and
``TELEGRAM_BOT_TOKEN`` at ``.token``.

Like Telegram it answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters"}``:

- a wrong token: 401 ``Unauthorized``; an unknown method: 404 ``Not Found``;
- ``sendMessage`` to a chat marked ``block(chat_id)``: 403 ``Forbidden: bot was blocked by the user``;
  an empty text or one over 4096 characters: 400;
- flood limits, as Telegram states them: more than one message a second to one chat
  (``chat_interval``) or more than ``global_per_second`` a second overall: 429 with
  ``parameters.retry_after`` (whole seconds). Refused sends are in ``refusals``, never in ``sent``;
- ``getUpdates`` serves the queued updates from ``offset`` on (earlier ones are confirmed and
  dropped) and waits for one up to its ``timeout``, cut to ``long_poll_cap`` seconds; while a
  webhook is set it answers 409 like Telegram;
- ``setWebhook`` / ``deleteWebhook`` remember the URL and secret; ``push_update`` then POSTs the
  update to it with ``X-Telegram-Bot-Api-Secret-Token``.

Tests read ``sent`` (``SentMessage``: chat, text, markup, ``time.monotonic()`` on arrival, id),
``messages(chat_id)``, ``edits``, ``callback_answers``, ``refusals``, and script failures with
``fail_next(method, ...)``: an error answer (e.g. 429 with ``retry_after``, 500) or ``"reset"``
(the connection closed without an answer).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib import request as urlrequest

from trading.fakes.server import Answer, FakeServer, Request

DEFAULT_TOKEN = "123456:FAKE-telegram-token"
TEXT_LIMIT = 4096


@dataclass
class SentMessage:
    chat_id: int
    text: str
    reply_markup: dict | None
    at: float  # time.monotonic() on arrival
    message_id: int


@dataclass
class Refusal:
    method: str
    chat_id: int | None
    status: int
    at: float  # time.monotonic()
    retry_after: int | None = None


def error(status: int, description: str, *, retry_after: int | None = None) -> Answer:
    """Telegram's error answer."""
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Answer(status, body)


def ok(result: Any) -> Answer:
    return Answer(200, {"ok": True, "result": result})


_update_ids = itertools.count(1)
_message_ids = itertools.count(1_000)


def _person(chat_id: int, username: str, language_code: str) -> dict[str, Any]:
    person: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": username or "User",
                              "language_code": language_code}
    if username:
        person["username"] = username
    return person


def _chat(chat_id: int, username: str) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": username or "User"}
    if username:
        chat["username"] = username
    return chat


def message_update(chat_id: int, text: str, username: str = "", *, language_code: str = "ko") -> dict[str, Any]:
    """An update carrying a private message ``text`` from ``chat_id`` (commands get their entity)."""
    message: dict[str, Any] = {"message_id": next(_message_ids), "from": _person(chat_id, username, language_code),
                               "chat": _chat(chat_id, username), "date": int(time.time()), "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": next(_update_ids), "message": message}


def callback_update(chat_id: int, data: str, message_id: int, username: str = "", *,
                    language_code: str = "ko") -> dict[str, Any]:
    """An update for a press on an inline button (``callback_data`` ``data``) under ``message_id``."""
    return {"update_id": next(_update_ids), "callback_query": {
        "id": uuid.uuid4().hex[:16], "from": _person(chat_id, username, language_code),
        "message": {"message_id": message_id, "chat": _chat(chat_id, username), "date": int(time.time()), "text": ""},
        "chat_instance": str(chat_id), "data": data}}


class FakeTelegram(FakeServer):
    """The fake Bot API (a context manager: ``with FakeTelegram() as fake: ...``)."""

    def __init__(self, port: int = 0, *, token: str = DEFAULT_TOKEN, username: str = "quantk_test_bot",
                 chat_interval: float = 1.0, global_per_second: int = 30, long_poll_cap: float = 1.0) -> None:
        super().__init__(port)
        self.token = token
        self.username = username
        self.chat_interval = chat_interval
        self.global_per_second = global_per_second
        self.long_poll_cap = long_poll_cap
        self.sent: list[SentMessage] = []
        self.edits: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.refusals: list[Refusal] = []
        self.blocked: set[int] = set()
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_posts: list[tuple[dict[str, Any], int]] = []  # (update, HTTP status answered)
        self._updates: list[dict[str, Any]] = []
        self._method_faults: dict[str, list[Answer | str]] = {}
        self._last_per_chat: dict[int, float] = {}
        self._recent: deque[float] = deque()
        self._arrived = threading.Condition(threading.Lock())
        self._methods = {
            "sendMessage": self._send_message, "editMessageText": self._edit_message_text,
            "answerCallbackQuery": self._answer_callback_query, "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook, "getMe": self._get_me,
        }

    # -- what tests script ---------------------------------------------------------------------
    def block(self, chat_id: int) -> None:
        """The user of ``chat_id`` blocked the bot: sends to it answer 403."""
        with self.lock:
            self.blocked.add(int(chat_id))

    def fail_next(self, method: str, fault: Answer | str | int = 500, times: int = 1, *,  # type: ignore[override]
                  retry_after: int | None = None, description: str = "") -> None:
        """The next ``times`` calls of ``method`` get ``fault``: an ``Answer``, ``"reset"``, or an
        error code (429 comes with ``retry_after``; the description defaults to Telegram's)."""
        if isinstance(fault, int):
            texts = {429: f"Too Many Requests: retry after {retry_after or 1}", 500: "Internal Server Error",
                     502: "Bad Gateway", 400: "Bad Request: chat not found", 403: "Forbidden: bot was blocked by the user"}
            fault = error(fault, description or texts.get(fault, "Error"),
                          retry_after=(retry_after or 1) if fault == 429 else None)
        with self.lock:
            self._method_faults.setdefault(method, []).extend([fault] * times)

    def push_update(self, update: dict[str, Any]) -> int | None:
        """Queue ``update`` for ``getUpdates``, or with a webhook set POST it there now (returns the
        webhook's HTTP status, 0 when it could not be reached)."""
        update = dict(update)
        update.setdefault("update_id", next(_update_ids))
        with self.lock:
            url, secret = self.webhook_url, self.webhook_secret
        if not url:
            with self._arrived:
                self._updates.append(update)
                self._arrived.notify_all()
            return None
        status = self._post_webhook(url, secret, update)
        with self.lock:
            self.webhook_posts.append((update, status))
        return status

    @staticmethod
    def _post_webhook(url: str, secret: str, update: dict[str, Any]) -> int:
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        post = urlrequest.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
        try:
            with urlrequest.urlopen(post, timeout=10) as answer:  # noqa: S310 - a test's own URL
                return answer.status
        except urlrequest.HTTPError as exc:
            return exc.code
        except OSError:
            return 0

    # -- what tests read -----------------------------------------------------------------------
    def messages(self, chat_id: int) -> list[SentMessage]:
        with self.lock:
            return [m for m in self.sent if m.chat_id == int(chat_id)]

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.messages(chat_id)]

    def pending_updates(self) -> int:
        with self._arrived:
            return len(self._updates)

    # -- serving -------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Answer | str:
        with self.lock:
            self.requests.append(request)
        parts = request.path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return error(404, "Not Found")
        if parts[0][3:] != self.token:
            return error(401, "Unauthorized")
        method = parts[1]
        body = {**request.query, **request.body}
        with self.lock:
            queued = self._method_faults.get(method)
            fault = queued.pop(0) if queued else None
        if fault is not None:
            if isinstance(fault, Answer) and fault.status >= 400:
                self._refused(method, body, fault)
            return fault
        if method == "getUpdates":  # waits without holding the server's lock
            return self._get_updates(body)
        handler = self._methods.get(method)
        if handler is None:
            return error(404, "Not Found")
        with self.lock:
            return handler(body)

    def _refused(self, method: str, body: dict[str, Any], answer: Answer) -> None:
        parameters = answer.body.get("parameters", {}) if isinstance(answer.body, dict) else {}
        with self.lock:
            self.refusals.append(Refusal(method, _int(body.get("chat_id")), answer.status, time.monotonic(),
                                         parameters.get("retry_after")))

    def _send_message(self, body: dict[str, Any]) -> Answer:
        chat_id, text, now = _int(body.get("chat_id")), str(body.get("text") or ""), time.monotonic()
        if chat_id is None:
            return error(400, "Bad Request: chat_id is empty")
        if not text.strip():
            return error(400, "Bad Request: message text is empty")
        if len(text) > TEXT_LIMIT:
            return error(400, "Bad Request: message is too long")
        if chat_id in self.blocked:
            answer = error(403, "Forbidden: bot was blocked by the user")
            self._refused("sendMessage", body, answer)
            return answer
        flood = self._flood_wait(chat_id, now)
        if flood is not None:
            answer = error(429, f"Too Many Requests: retry after {flood}", retry_after=flood)
            self._refused("sendMessage", body, answer)
            return answer
        self._last_per_chat[chat_id] = now
        self._recent.append(now)
        message = SentMessage(chat_id, text, body.get("reply_markup"), now, next(_message_ids))
        self.sent.append(message)
        return ok({"message_id": message.message_id, "chat": {"id": chat_id, "type": "private"},
                   "date": int(time.time()), "text": text})

    def _flood_wait(self, chat_id: int, now: float) -> int | None:
        """Whole seconds to wait when this send would break a limit, else None."""
        last = self._last_per_chat.get(chat_id)
        if last is not None and now - last < self.chat_interval:
            return max(1, math.ceil(self.chat_interval - (now - last)))
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.global_per_second:
            return 1
        return None

    def _edit_message_text(self, body: dict[str, Any]) -> Answer:
        chat_id, message_id = _int(body.get("chat_id")), _int(body.get("message_id"))
        if not any(m.chat_id == chat_id and m.message_id == message_id for m in self.sent):
            return error(400, "Bad Request: message to edit not found")
        if not str(body.get("text") or "").strip():
            return error(400, "Bad Request: message text is empty")
        self.edits.append({"chat_id": chat_id, "message_id": message_id, "text": body.get("text"),
                           "reply_markup": body.get("reply_markup"), "at": time.monotonic()})
        return ok({"message_id": message_id, "chat": {"id": chat_id, "type": "private"}, "text": body.get("text")})

    def _answer_callback_query(self, body: dict[str, Any]) -> Answer:
        if not body.get("callback_query_id"):
            return error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.callback_answers.append({"callback_query_id": body["callback_query_id"], "text": body.get("text", "")})
        return ok(True)

    def _get_updates(self, body: dict[str, Any]) -> Answer:
        with self.lock:
            if self.webhook_url:
                return error(409, "Conflict: can't use getUpdates method while webhook is active; "
                                  "use deleteWebhook to delete the webhook first")
        offset = _int(body.get("offset")) or 0
        deadline = time.monotonic() + min(float(body.get("timeout") or 0), self.long_poll_cap)
        with self._arrived:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed: dropped
            while not self._updates and time.monotonic() < deadline:
                self._arrived.wait(deadline - time.monotonic())
            limit = _int(body.get("limit")) or 100
            return ok([dict(u) for u in self._updates[:limit]])

    def _set_webhook(self, body: dict[str, Any]) -> Answer:
        url = str(body.get("url") or "")
        self.webhook_url, self.webhook_secret = url, str(body.get("secret_token") or "")
        return ok(True)

    def _delete_webhook(self, body: dict[str, Any]) -> Answer:
        self.webhook_url = self.webhook_secret = ""
        return ok(True)

    def _get_me(self, body: dict[str, Any]) -> Answer:
        return ok({"id": int(self.token.split(":")[0]) if self.token.split(":")[0].isdigit() else 1, "is_bot": True,
                   "first_name": "QuantK", "username": self.username, "can_join_groups": False,
                   "can_read_all_group_messages": False, "supports_inline_queries": False})

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


__all__ = ["DEFAULT_TOKEN", "FakeTelegram", "Refusal", "SentMessage", "callback_update", "error",
           "message_update", "ok"]
