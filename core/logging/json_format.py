"""One JSON object per line (``LOG_FORMAT=json``): time (ISO 8601, UTC, milliseconds), level,
logger, message, request_id, user_id, task, task_id, and exception (the traceback text) when there
is one. Keys with no value are written as null, so every line has the same keys.

Secrets are masked before this runs (``core.logging.scrub.ScrubFilter`` on the handler).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from core.logging import context


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context.fields(record),
            "exception": None,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)
