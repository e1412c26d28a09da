"""The Telegram Bot API client: one small httpx client behind the shape of our broker adapters.

Every method posts JSON to ``{base_url}/bot{token}/{method}`` and returns Telegram's ``result``.
Telegram answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}``; every failure becomes one ``TelegramError``:

- 429 Too Many Requests: ``retry_after`` (seconds) says when the same request may be sent again;
- 5xx, timeouts, refused or reset connections, an unreadable answer: temporary (``permanent=False``);
- 400 (chat not found, bad markup), 401 (wrong token), 403 (the user blocked the bot), 404: permanent.

The token is a secret: it never appears in an error's text, a ``repr`` or httpx's request log
(``HideBotToken`` rewrites the URL httpx logs). Pure: no Django import except in
``client_from_settings``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

logger = logging.getLogger("notifications.telegram")

# the path segment that carries the token: /bot<token>/<method>
_TOKEN_IN_PATH = re.compile(r"/bot[^/]+/")
TEXT_LIMIT = 4096  # Telegram's longest message text (characters after entity parsing)


class TelegramError(Exception):
    """A call that did not succeed. ``permanent``: the same request will never succeed (do not
    retry); ``retry_after``: Telegram's flood wait in seconds (429); ``status``: Telegram's
    ``error_code`` or the HTTP status (0 when no answer came)."""

    def __init__(self, description: str, *, permanent: bool, retry_after: float | None = None,
                 status: int = 0) -> None:
        super().__init__(description)
        self.description = description
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status

    @property
    def blocked(self) -> bool:
        """The user blocked the bot, left or deleted the chat: nothing will reach it again."""
        return self.status == 403

    def __repr__(self) -> str:
        return (f"TelegramError({self.description!r}, permanent={self.permanent}, "
                f"retry_after={self.retry_after}, status={self.status})")


def hide_token(text: str) -> str:
    """``text`` with the token of any Bot API URL replaced by ``***``."""
    return _TOKEN_IN_PATH.sub("/bot***/", text)


class HideBotToken(logging.Filter):
    """httpx logs every request's full URL at INFO ("HTTP Request: POST https://…/bot<token>/…"):
    keep the method name, drop the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_scrub_arg(arg) for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = hide_token(record.msg)
        return True


def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, httpx.URL) and "/bot" in arg.path:
        return arg.copy_with(path=hide_token(arg.path))
    if isinstance(arg, str) and "/bot" in arg:
        return hide_token(arg)
    return arg


for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, HideBotToken) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(HideBotToken())


class TelegramClient:
    """One bot. ``timeout`` bounds each request (a long poll adds its own ``timeout`` to the read)."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0, *,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._client = client or httpx.Client()

    def __repr__(self) -> str:  # never the token
        return f"<TelegramClient {self.base_url}>"

    def close(self) -> None:
        self._client.close()

    # -- the methods we use --------------------------------------------------------------------
    def send_message(self, chat_id: int, text: str, reply_markup: dict | None = None) -> dict:
        """Send ``text`` (plain, no parse mode); returns the sent Message (``message_id``…)."""
        body: dict[str, Any] = {"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
        if reply_markup is not None:
            body["reply_markup"] = reply_markup
        return self.call("sendMessage", body)

    def edit_message_text(self, chat_id: int, message_id: int, text: str, reply_markup: dict | None = None) -> Any:
        body: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": text}
        if reply_markup is not None:
            body["reply_markup"] = reply_markup
        return self.call("editMessageText", body)

    def answer_callback_query(self, callback_query_id: str, text: str = "") -> Any:
        body: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            body["text"] = text
        return self.call("answerCallbackQuery", body)

    def get_updates(self, offset: int | None = None, timeout: int = 0) -> list[dict]:
        """Updates after ``offset`` (the last seen ``update_id`` + 1); waits up to ``timeout`` s for one."""
        body: dict[str, Any] = {"timeout": int(timeout), "allowed_updates": ["message", "callback_query"]}
        if offset is not None:
            body["offset"] = offset
        return list(self.call("getUpdates", body, read_timeout=self.timeout + timeout) or [])

    def set_webhook(self, url: str, secret_token: str) -> Any:
        return self.call("setWebhook", {"url": url, "secret_token": secret_token,
                                        "allowed_updates": ["message", "callback_query"]})

    def delete_webhook(self) -> Any:
        return self.call("deleteWebhook", {})

    def get_me(self) -> dict:
        return self.call("getMe", {})

    # -- the one door to the network -----------------------------------------------------------
    def call(self, method: str, body: dict[str, Any], *, read_timeout: float | None = None) -> Any:
        """POST ``body`` to ``method``; Telegram's ``result`` or ``TelegramError``."""
        if not self._token:
            raise TelegramError("no bot token is configured", permanent=True)
        url = f"{self.base_url}/bot{self._token}/{method}"
        timeout = httpx.Timeout(self.timeout, read=read_timeout or self.timeout)
        try:
            response = self._client.post(url, json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            # the exception may quote the URL: only its type and a scrubbed text leave here
            text = self._scrub(str(exc)) or type(exc).__name__
            raise TelegramError(f"{method}: {type(exc).__name__}: {text}", permanent=False) from None
        return self._result(method, response)

    def _result(self, method: str, response: httpx.Response) -> Any:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise TelegramError(f"{method}: unreadable answer (HTTP {response.status_code})",
                                permanent=False, status=response.status_code)
        if answer.get("ok") is True and response.status_code < 400:
            return answer.get("result")
        status = int(answer.get("error_code") or response.status_code or 0)
        description = self._scrub(str(answer.get("description") or f"HTTP {response.status_code}"))[:250]
        parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
        if status == 429:
            retry_after = float(parameters.get("retry_after") or 1)
            raise TelegramError(f"{method}: {description}", permanent=False, retry_after=retry_after, status=429)
        permanent = 400 <= status < 500
        raise TelegramError(f"{method}: {description}", permanent=permanent, status=status)

    def _scrub(self, text: str) -> str:
        text = hide_token(text)
        return text.replace(self._token, "***") if len(self._token) > 3 else text


def client_from_settings() -> TelegramClient:
    """The platform's bot: ``TELEGRAM_API_URL``, ``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_HTTP_TIMEOUT``."""
    from django.conf import settings

    return TelegramClient(settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN,
                          float(getattr(settings, "TELEGRAM_HTTP_TIMEOUT", 10.0)))


__all__ = ["TEXT_LIMIT", "TelegramClient", "TelegramError", "client_from_settings", "hide_token"]
