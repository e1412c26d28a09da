"""Edge cache: a few immutable, owner-only responses answered in front of Django.

A finished backtest's results page and results API never change, yet a trip through Django
(sessions, authentication, middleware, the thread hop of a sync view under ASGI, templates) costs
7-25 ms of CPU per request: one server process answers a few dozen of them a second. This ASGI
middleware keeps what a view hands it and answers the same owner's next requests for it in
microseconds, without touching Django or the database.

What keeps it correct:

* Only responses a view explicitly offers (``keep``) are stored: status 200, GET without a query
  string, after the view itself authenticated the user and checked ownership through its
  selector. Anything else, and every miss, goes to Django as usual (login redirect, 404 for
  another user, 409 for an unfinished run...).
* A request is answered here only when its credential (the session cookie, or the
  ``Authorization`` header on API routes) was authenticated by Django less than
  ``EDGE_CACHE_SECONDS`` ago, and the stored response belongs to that same user. Entries expire
  after the same time and are then rebuilt by Django.
* Signing out, revoking a token, saving a user (password, preferences, deactivation) and saving or
  deleting the cached object forget the entries at once (``forget_user``, ``forget_tag``), in every
  server process: in this one directly, in the others through Redis when ``REDIS_URL`` is set
  (full stack; embedded mode serves from one process). Each forget is published on a Redis
  channel that every server process listens to from a thread (:class:`Bus`), so a hit still costs
  no database query and no Redis round trip. A process whose listener is not subscribed (starting,
  or Redis lost) answers nothing here and drops what it kept: it may have missed a forget. A forget
  made inside a transaction is repeated once it commits, and a response whose user or object was
  forgotten while Django was rendering it is not kept, so a request racing a revocation cannot put
  the old state back.
* Per-request parts of a page are holes, filled for each answer: the CSRF token (masked afresh
  from the request's own ``csrftoken`` cookie) and one-time submission keys. A page request whose
  cookies are not in step with the user's preferences (language, theme, time zone), or that
  carries a ``messages`` cookie, goes to Django, which sets or consumes them.
* Answers from here carry ``X-Edge-Cache: hit``; the API's throttle does not count them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import itertools
import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http.cookie import parse_cookie
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.utils.safestring import mark_safe

from core.edge_bus import Bus

PAGE = "page"  # a session-authenticated HTML page
API = "api"  # an API route: the Authorization header, else the session (as DRF authenticates)

# Marked safe and starting with "<": no user text can render as a hole, since the templates
# escape it to "&lt;...".
HOLE_CSRF = mark_safe("<edge-hole:csrf>")
HOLE_ONCE = mark_safe("<edge-hole:once>")
HOLES = {"csrf_token": HOLE_CSRF}  # template context that renders the CSRF token as a hole
# HOLE_ONCE: put it where a fresh one-time value (a submission key) belongs; each answer gets a uuid4
_HOLE_RE = re.compile(f"({re.escape(HOLE_CSRF)}|{re.escape(HOLE_ONCE)})".encode())
_CSRF_CHARS = frozenset(CSRF_ALLOWED_CHARS)
_CSRF_INDEX = {char: index for index, char in enumerate(CSRF_ALLOWED_CHARS)}
_SKIP_HEADERS = {b"set-cookie", b"content-length", b"x-edge-cache", b"x-request-id"}
_HIT = (b"x-edge-cache", b"hit")
GZIP_MIN_BYTES = 1024
FLIGHT_WAIT_SECONDS = 30.0
FORGOTTEN_KEPT = 10_000  # forgets remembered against responses still in Django

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    kind: str


_ROUTES: list[Route] = []


def route(pattern: str, *, kind: str) -> None:
    """Declare a path (a full-match regex) whose offered responses may be kept."""
    if kind not in (PAGE, API):
        raise ValueError(f"unknown edge route kind {kind!r}")
    if not any(r.pattern.pattern == pattern for r in _ROUTES):
        _ROUTES.append(Route(re.compile(pattern), kind))


def _match(path: str) -> Route | None:
    for candidate in _ROUTES:
        if candidate.pattern.fullmatch(path):
            return candidate
    return None


# ---------------------------------------------------------------------------------------------------
# The two tables: who was authenticated (principals) and what was kept (entries)
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    user_id: int
    look: tuple[tuple[str, str], ...]  # the cookies of the user's look (language, theme, time zone) then
    expires: float


@dataclass(frozen=True)
class Entry:
    owner_id: int
    tag: str
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    parts: tuple[bytes, ...]  # the body split at its holes: text, hole, text, hole, ..., text
    gzipped: bytes | None  # for a body without holes, compressed once
    etag: bytes | None
    expires: float
    size: int


@dataclass(frozen=True)
class Offer:
    """What a view hands the edge: the answer's parts and whose it is."""

    kind: str
    key: tuple
    credential: str
    user_id: int
    look: tuple[tuple[str, str], ...]
    owner_id: int
    tag: str
    parts: tuple[bytes, ...]


@dataclass
class Slot:
    """Put in the ASGI scope of a request that may be kept; the view fills ``offer``."""

    offer: Offer | None = None


@dataclass
class _Tables:
    principals: dict[bytes, Principal] = field(default_factory=dict)
    by_user: dict[int, set[bytes]] = field(default_factory=dict)
    entries: OrderedDict[tuple, Entry] = field(default_factory=OrderedDict)
    by_tag: dict[str, set[tuple]] = field(default_factory=dict)
    size: int = 0
    # the tick (of _ticks) at which each user / tag was last forgotten, and up to which tick
    # everything counts as forgotten
    forgotten: dict[tuple[str, Any], int] = field(default_factory=dict)
    horizon: int = 0


_tables = _Tables()
_lock = threading.Lock()
_ticks = itertools.count(1)  # orders forgets and requests reaching Django
_now = time.monotonic  # the clock of expiry (tests move it without moving everyone's)


def _ttl() -> float:
    return float(getattr(settings, "EDGE_CACHE_SECONDS", 15))


def _max_bytes() -> int:
    return int(getattr(settings, "EDGE_CACHE_MAX_BYTES", 64 * 1024 * 1024))


def _digest(credential: str) -> bytes:
    return hashlib.blake2b(credential.encode(), digest_size=16).digest()


def clear() -> None:
    """Forget everything kept in this process."""
    global _tables
    with _lock:
        _tables = _Tables(horizon=next(_ticks))


def forget_user(user_id: int) -> None:
    """Every credential of this user must be authenticated by Django again, in every process."""
    _forget_everywhere("user", user_id)


def forget_tag(tag: str) -> None:
    """Drop every kept response of this object (a run that changed or was deleted), in every process."""
    _forget_everywhere("tag", tag)


def _forget_everywhere(kind: str, value: int | str) -> None:
    _forget_here(kind, value)
    _bus.publish(kind, value)
    if transaction.get_connection().in_atomic_block:
        # Until the change commits, Django still sees the old state and may keep it again.
        transaction.on_commit(lambda: (_forget_here(kind, value), _bus.publish(kind, value)))


def _forget_here(kind: str, value: int | str) -> None:
    with _lock:
        _tables.forgotten[(kind, value)] = next(_ticks)
        if len(_tables.forgotten) > FORGOTTEN_KEPT:  # keep the newest half; older requests count as forgotten
            ordered = sorted(_tables.forgotten.items(), key=lambda item: item[1])
            half = len(ordered) // 2
            _tables.horizon = max(_tables.horizon, ordered[half - 1][1])
            _tables.forgotten = dict(ordered[half:])
        if kind == "user":
            for digest in _tables.by_user.pop(value, set()):
                _tables.principals.pop(digest, None)
        else:
            for key in _tables.by_tag.pop(value, set()):
                entry = _tables.entries.pop(key, None)
                if entry is not None:
                    _tables.size -= entry.size


def _forgotten_since(started: int, offer: Offer) -> bool:
    """Whether the offer's user or object was forgotten after its request reached Django."""
    tables = _tables
    return (started <= tables.horizon or tables.forgotten.get(("user", offer.user_id), 0) >= started
            or tables.forgotten.get(("tag", offer.tag), 0) >= started)  # fmt: skip


_bus = Bus(on_forget=_forget_here, on_reset=clear)


def _remember(digest: bytes, principal: Principal, key: tuple, entry: Entry, *, started: int,
              offer: Offer) -> None:
    with _lock:
        if _forgotten_since(started, offer):
            return
        _tables.principals[digest] = principal
        _tables.by_user.setdefault(principal.user_id, set()).add(digest)
        old = _tables.entries.pop(key, None)
        if old is not None:
            _tables.size -= old.size
        _tables.entries[key] = entry
        _tables.by_tag.setdefault(entry.tag, set()).add(key)
        _tables.size += entry.size
        limit = _max_bytes()
        while _tables.size > limit and _tables.entries:
            evicted_key, evicted = _tables.entries.popitem(last=False)
            _tables.size -= evicted.size
            keys = _tables.by_tag.get(evicted.tag)
            if keys is not None:
                keys.discard(evicted_key)
                if not keys:
                    del _tables.by_tag[evicted.tag]
        if len(_tables.principals) > 50_000:  # drop the expired ones now and then
            now = _now()
            for stale in [d for d, p in _tables.principals.items() if p.expires < now]:
                _tables.principals.pop(stale, None)


# ---------------------------------------------------------------------------------------------------
# Reading a request (ASGI side) and the same facts from a Django request (view side)
# ---------------------------------------------------------------------------------------------------
def _credential(kind: str, authorization: str | None, cookies: dict[str, str]) -> str | None:
    if kind == API and authorization:
        return "authorization:" + authorization
    session = cookies.get(settings.SESSION_COOKIE_NAME)
    return "session:" + session if session else None


def _valid_csrf_secret(value: str | None) -> bool:
    return value is not None and len(value) == CSRF_SECRET_LENGTH and set(value) <= _CSRF_CHARS


def _in_step(cookies: dict[str, str], look: tuple[tuple[str, str], ...]) -> bool:
    """Whether the request's cookies already say what the page's look is (else Django sets them)."""
    return all(cookies.get(name) == value for name, value in look)


def _look(request) -> tuple[tuple[str, str], ...]:
    """The cookies the request's preferences (``request.preferences``, accounts' middleware) call for."""
    prefs = getattr(request, "preferences", None)
    return tuple(sorted(prefs.cookies().items())) if prefs is not None else ()


def mask_csrf_secret(secret: str) -> str:
    """A fresh CSRF token for the cookie's ``secret``: Django's masking (a random mask, then the
    secret shifted by it), in a tenth of the time of ``django.middleware.csrf._mask_cipher_secret``."""
    chars, n = CSRF_ALLOWED_CHARS, len(CSRF_ALLOWED_CHARS)
    mask = [byte % n for byte in os.urandom(CSRF_SECRET_LENGTH)]  # a slight bias is harmless: it only varies the token
    return "".join(chars[m] for m in mask) + "".join(
        chars[(_CSRF_INDEX[c] + m) % n] for c, m in zip(secret, mask, strict=True)
    )


def _key(kind: str, path: str, look: tuple[tuple[str, str], ...], cookies: dict[str, str]) -> tuple:
    if kind == API:
        return (API, path)
    return (PAGE, path, *look)  # the look includes the price colours (accounts.preferences)


# ---------------------------------------------------------------------------------------------------
# The view side: offer a response
# ---------------------------------------------------------------------------------------------------
def _slot(request) -> Slot | None:
    scope = getattr(request, "scope", None)
    slot = scope.get("edge") if isinstance(scope, dict) else None
    return slot if isinstance(slot, Slot) else None


def page_can_keep(request) -> bool:
    """Whether this page request may be kept: served through the edge, a plain GET, cookies in step
    with the user's preferences, a CSRF cookie to mask and no pending messages. Render with
    :data:`HOLES` in the context when it is."""
    if _slot(request) is None or request.method != "GET" or request.META.get("QUERY_STRING"):
        return False
    cookies, look = request.COOKIES, _look(request)
    if not look or "messages" in cookies or not _valid_csrf_secret(cookies.get(settings.CSRF_COOKIE_NAME)):
        return False
    return _in_step(cookies, look)


def keep(request, response, *, owner_id: int, tag: str) -> Any:
    """Offer ``response`` (the owner's, just checked by the view) to the edge, and return it with its
    holes filled for this request. A no-op outside the edge (tests' client, WSGI)."""
    slot = _slot(request)
    body = response.content
    parts = tuple(_HOLE_RE.split(body))
    if len(parts) > 1:
        response.content = _fill(parts, csrf=lambda: get_token(request))
    route_ = _match(request.path)
    if slot is None or route_ is None or response.status_code != 200 or request.method != "GET":
        return response
    look = _look(request)
    credential = _credential(route_.kind, _authorization(request), request.COOKIES)
    if credential is None or (route_.kind == PAGE and len(parts) == 1):
        return response  # a page rendered without holes (page_can_keep said no) carries this request's own token
    slot.offer = Offer(kind=route_.kind, key=_key(route_.kind, request.path, look, request.COOKIES),
                       credential=credential, user_id=request.user.pk, look=look, owner_id=owner_id, tag=tag,
                       parts=parts)
    return response


def _authorization(request) -> str | None:
    """The Authorization header when it authenticated this request (DRF sets ``request.auth`` to the
    token; a session, or a plain Django view, leaves none), else None."""
    if getattr(request, "auth", None) is None:
        return None
    return request.META.get("HTTP_AUTHORIZATION")


def _fill(parts: tuple[bytes, ...], *, csrf) -> bytes:
    """The body with its holes filled: one CSRF token and one fresh key per answer, as Django
    renders the same value wherever a template uses it."""
    values = {HOLE_CSRF.encode(): csrf().encode(), HOLE_ONCE.encode(): uuid.uuid4().hex.encode()}
    return b"".join(part if index % 2 == 0 else values[part] for index, part in enumerate(parts))


# ---------------------------------------------------------------------------------------------------
# The ASGI side
# ---------------------------------------------------------------------------------------------------
def _lookup(route_: Route, path: str, headers: dict[bytes, bytes]) -> tuple[bytes | None, tuple | None, bool]:
    """(the credential's digest, (entry, CSRF secret) when it may be answered here, whether it is
    due for renewal)."""
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    authorization = headers.get(b"authorization")
    credential = _credential(route_.kind, authorization.decode("latin-1") if authorization else None, cookies)
    if credential is None:
        return None, None, False
    digest = _digest(credential)
    if not _bus.hears_forgets():
        return digest, None, False
    now = _now()
    principal = _tables.principals.get(digest)
    if principal is None or principal.expires < now:
        return digest, None, False
    csrf_secret = None
    if route_.kind == PAGE:
        csrf_secret = cookies.get(settings.CSRF_COOKIE_NAME)
        if "messages" in cookies or not _valid_csrf_secret(csrf_secret) or not _in_step(cookies, principal.look):
            return digest, None, False
    entry = _tables.entries.get(_key(route_.kind, path, principal.look, cookies))
    if entry is None or entry.expires < now or entry.owner_id != principal.user_id:
        return digest, None, False
    renew = min(entry.expires, principal.expires) - now < _ttl() / 3
    return digest, (entry, csrf_secret), renew


async def _answer(found: tuple, headers: dict[bytes, bytes], send) -> None:
    entry, csrf_secret = found
    out = list(entry.headers)
    out.append(_HIT)
    if entry.etag is not None and headers.get(b"if-none-match") == entry.etag:
        await send({"type": "http.response.start", "status": 304, "headers": out})
        await send({"type": "http.response.body", "body": b""})
        return
    if entry.gzipped is not None and b"gzip" in headers.get(b"accept-encoding", b""):
        body = entry.gzipped
        out += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
    elif len(entry.parts) == 1:
        body = entry.parts[0]
    else:
        body = _fill(entry.parts, csrf=lambda: mask_csrf_secret(csrf_secret))
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": entry.status, "headers": out})
    await send({"type": "http.response.body", "body": body})


class EdgeCache:
    """ASGI middleware for HTTP: answers kept responses, passes everything else to ``app``.

    Misses are coalesced: while one request of a credential for a path is in Django, the others
    for the same wait for its answer instead of queueing behind it (a cold page opened by many
    connections at once costs one render). In the last third of an entry's life one request goes
    to Django to renew it while the rest are still answered here, so entries do not all expire
    under load at the same moment.
    """

    def __init__(self, app) -> None:
        self.app = app
        self._flights: dict[tuple[bytes, str], asyncio.Event] = {}
        _bus.listen()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("query_string"):
            return await self.app(scope, receive, send)
        route_ = _match(scope["path"])
        if route_ is None:
            return await self.app(scope, receive, send)
        path, headers = scope["path"], dict(scope["headers"])
        digest, found, renew = _lookup(route_, path, headers)
        flight = (digest, path) if digest is not None else None
        in_flight = self._flights.get(flight) if flight is not None else None
        if found is not None and (not renew or in_flight is not None):
            return await _answer(found, headers, send)
        if found is None and in_flight is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(in_flight.wait(), timeout=FLIGHT_WAIT_SECONDS)
            digest, found, _ = _lookup(route_, path, headers)
            if found is not None:
                return await _answer(found, headers, send)
        leader = flight is not None and flight not in self._flights
        if leader:
            self._flights[flight] = asyncio.Event()
        try:
            await self._through_django(scope, receive, send)
        finally:
            if leader:
                self._flights.pop(flight).set()

    async def _through_django(self, scope, receive, send) -> None:
        slot = Slot()
        captured: dict[str, Any] = {}
        started = next(_ticks)

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif (message["type"] == "http.response.body" and not message.get("more_body")
                  and slot.offer is not None and captured.get("status") == 200):
                self._store(slot.offer, captured["headers"], started)  # before the last part leaves: the next request finds it
            await send(message)

        await self.app({**scope, "edge": slot}, receive, capture)

    @staticmethod
    def _store(offer: Offer, headers, started: int) -> None:
        cookies_set = [value for name, value in headers if name.lower() == b"set-cookie"]
        csrf_name = settings.CSRF_COOKIE_NAME.encode() + b"="
        if offer.kind == PAGE and any(not value.startswith(csrf_name) for value in cookies_set):
            return  # Django set a cookie the page's look depends on (or a new session): let it keep doing so
        kept = tuple((name, value) for name, value in headers if name.lower() not in _SKIP_HEADERS)
        etag = next((value for name, value in kept if name.lower() == b"etag"), None)
        parts = offer.parts
        gzipped = gzip.compress(parts[0], 6) if len(parts) == 1 and len(parts[0]) >= GZIP_MIN_BYTES else None
        expires = _now() + _ttl()
        entry = Entry(owner_id=offer.owner_id, tag=offer.tag, status=200, headers=kept, parts=parts,
                      gzipped=gzipped, etag=etag, expires=expires,
                      size=sum(map(len, parts)) + len(gzipped or b""))  # fmt: skip
        principal = Principal(user_id=offer.user_id, look=offer.look, expires=expires)
        _remember(_digest(offer.credential), principal, offer.key, entry, started=started, offer=offer)
