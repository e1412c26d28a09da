"""Secrets never reach a log line or an error report: :func:`scrub_text` masks them in text,
:func:`scrub_data` in nested data (Sentry events), :class:`ScrubFilter` in log records.

Masked: Authorization/Bearer values; the value of any key named like a secret (appkey, appsecret,
app_key, app_secret, secretkey, approval_key, access_token, token, password, secret, signature,
X-Telegram-Bot-Api-Secret-Token, ...) in JSON, Python reprs, query strings and headers; Telegram
bot tokens (``bot123456:AA...`` in URLs, or bare); JWTs; long mixed-case key-like runs (32+
characters with upper, lower case and digits: KIS/Kiwoom keys and tokens, webhook secrets); Korean
account numbers (``12345678-01`` and 10-digit runs not starting with 00 keep their last 4 digits). Email addresses stay.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"
_SECRET_NAME = (r"(?:app_?key|app_?secret|secret_?key|approval_?key|access_?token|refresh_?token|token"
                r"|passw(?:or)?d|pwd|secret|api_?key|authorization|signature|cano)")
# a key that names a secret, possibly prefixed (x-telegram-bot-api-secret-token, webhook_secret)
SECRET_KEY = re.compile(rf"^[\w-]*{_SECRET_NAME}$", re.IGNORECASE)
_KEY = rf"(?P<key>[\w-]*{_SECRET_NAME})"
# "key": "value" / 'key': 'value' / key="value"
_QUOTED = re.compile(rf"{_KEY}(?P<q1>[\"']?)(?P<sep>\s*[:=]\s*)(?P<q>[\"'])(?P<value>.*?)(?P=q)", re.IGNORECASE)
# key=value (query strings, forms), key: value (headers), "key": 123
_BARE = re.compile(rf"{_KEY}(?P<q1>[\"']?)(?P<sep>\s*=\s*|\s*:\s+|(?<=[\"'])\s*:)"
                   rf"(?P<value>(?:Bearer\s+)?[^\s&\"',;}}\]]+)", re.IGNORECASE)
_BEARER = re.compile(r"\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_TELEGRAM = re.compile(r"(?<![A-Za-z0-9])(bot)?\d{5,12}:[A-Za-z0-9_-]{10,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_KEYLIKE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
_ACCOUNT_DASHED = re.compile(r"(?<![\d-])(\d{6})(\d{2}-\d{2})(?![\d-])")
# 10 digits not zero-padded (a broker's order number, 0000012345, stays readable), not a decimal
_ACCOUNT_RUN = re.compile(r"(?<![\d.])(?!00)(\d{6})(\d{4})(?!\d|\.\d)")


def _keylike(match: re.Match[str]) -> str:
    run = match.group(0)
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    return MASK if mixed else run


def scrub_text(text: str) -> str:
    """``text`` with every secret it shows masked (idempotent)."""
    if not text:
        return text
    text = _TELEGRAM.sub(lambda m: f"{m.group(1) or ''}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _QUOTED.sub(lambda m: f"{m['key']}{m['q1']}{m['sep']}{m['q']}{MASK}{m['q']}", text)
    text = _BARE.sub(lambda m: f"{m['key']}{m['q1']}{m['sep']}{MASK}", text)
    text = _JWT.sub(MASK, text)
    text = _KEYLIKE.sub(_keylike, text)
    text = _ACCOUNT_DASHED.sub(lambda m: "*" * 6 + m.group(2), text)
    return _ACCOUNT_RUN.sub(lambda m: "*" * 6 + m.group(2), text)


def scrub_data(value: Any, _depth: int = 0) -> Any:
    """A copy of nested dicts/lists/strings with secrets masked: a value under a secret-named key
    entirely, every string by :func:`scrub_text`."""
    if _depth > 20:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {key: MASK if isinstance(key, str) and SECRET_KEY.match(key) and value[key] not in (None, "")
                else scrub_data(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_data(item, _depth + 1) for item in value)
    return value


_exception_formatter = logging.Formatter()


class ScrubFilter(logging.Filter):
    """On a handler: the record's message is rendered once (msg % args), masked, and kept as the
    record's message without args; its exception and stack texts are rendered and masked too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format call stays the handler's error to report
            return True
        record.msg, record.args = scrub_text(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _exception_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return True
