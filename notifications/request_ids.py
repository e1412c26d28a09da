"""Request ids: every request gets one, the answer carries it (``X-Request-ID``), and each signed-in
user's last 20 are kept in the cache so that a feedback report can name the requests it is about.

The id is the incoming ``X-Request-ID`` when a proxy (or the app) sent a well-formed one, else a new
uuid4 hex; anything else in that header is ignored (it would end up in logs and reports).

Keeping the ids costs one cache round trip per request of a signed-in user: on Redis a pipeline of
LPUSH + LTRIM + EXPIRE on one list; on other caches (locmem in embedded mode, in-process) a read and
a write of the list. Static files (served by WhiteNoise before this middleware, or under
``STATIC_URL``) and anonymous requests cost nothing.

Middleware position: after ``AuthenticationMiddleware`` (board.md). The user is read after the
view ran, so an API request authenticated by DRF (token) counts for its user as well.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from core.logging.context import request_bound

HEADER = "X-Request-ID"
KEEP = 20
KEEP_SECONDS = 7 * 24 * 3600
WELL_FORMED = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_local_lock = threading.Lock()
logger = logging.getLogger(__name__)


def request_id_of(request: HttpRequest) -> str:
    """The id of ``request``: its well-formed ``X-Request-ID``, else a new uuid4 hex."""
    incoming = request.headers.get(HEADER, "")
    return incoming if WELL_FORMED.match(incoming) else uuid.uuid4().hex


def _key(user_id: int) -> str:
    return f"request-ids:{user_id}"


def _redis_client(key: str) -> Any | None:
    """The raw redis client behind the default cache, or None for another backend.

    Django's RedisCache has no list operations: the client it keeps (``_cache``) is used directly, on
    a key made by the cache itself (prefix and version apply)."""
    backend = getattr(cache, "_cache", None)
    if backend is None or type(cache).__module__ != "django.core.cache.backends.redis":
        return None
    return backend.get_client(key, write=True)


def _remember(user_id: int, entry: dict[str, Any]) -> None:
    key = cache.make_and_validate_key(_key(user_id))
    client = _redis_client(key)
    if client is not None:
        pipe = client.pipeline(transaction=False)
        pipe.lpush(key, json.dumps(entry, separators=(",", ":")))
        pipe.ltrim(key, 0, KEEP - 1)
        pipe.expire(key, KEEP_SECONDS)
        pipe.execute()
        return
    with _local_lock:  # an in-process cache: a read and a write, in this process only
        entries = cache.get(_key(user_id)) or []
        cache.set(_key(user_id), [entry, *entries][:KEEP], KEEP_SECONDS)


def recent_request_ids(user: Any) -> list[dict[str, Any]]:
    """The user's last 20 requests, newest first: ``{"id", "path", "method", "status", "at"}``
    (``at`` in epoch seconds). Empty for an anonymous user or when the cache lost them."""
    if not getattr(user, "is_authenticated", False):
        return []
    key = cache.make_and_validate_key(_key(user.pk))
    client = _redis_client(key)
    try:
        if client is not None:
            return [json.loads(raw) for raw in client.lrange(key, 0, KEEP - 1)]
        return list(cache.get(_key(user.pk)) or [])
    except Exception:  # noqa: BLE001 - a report is still worth filing without them
        logger.warning("recent request ids unreadable for user %s", user.pk, exc_info=True)
        return []


def _is_static(path: str) -> bool:
    prefixes = [settings.STATIC_URL, getattr(settings, "MEDIA_URL", "")]
    return any(prefix and prefix.startswith("/") and path.startswith(prefix) for prefix in prefixes) \
        or path == "/favicon.ico"


class RequestIdMiddleware:
    """Gives every request ``request.request_id`` and its answer the ``X-Request-ID`` header;
    remembers the signed-in user's last 20 requests (see :func:`recent_request_ids`)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_of(request)
        with request_bound(request):  # every log line of the request names it (core.logging.context)
            response = self.get_response(request)
        response[HEADER] = request.request_id
        if _is_static(request.path):
            return response
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False):
            entry = {"id": request.request_id, "path": request.path[:300], "method": request.method,
                     "status": response.status_code, "at": round(time.time(), 3)}
            try:
                _remember(user.pk, entry)
            except Exception:  # noqa: BLE001 - a lost cache never fails the user's request
                logger.warning("request id %s not kept", request.request_id, exc_info=True)
        return response
