"""The KIS websocket (broker-apis.md A8): frames, ticks, execution notices and one session's life.

Pure module (no Django): the feeds (``feeds.py``, ``notices.py``) give a ``KisStream`` what it
needs as callables: the approval key, the registrations wanted now, and what to do with data.

Protocol, as KIS's samples and python-kis speak it:

- ``POST /oauth2/Approval`` (``appkey`` + ``secretkey``) gives the approval key every subscribe
  message carries; it needs no access token. One session per app key (a second one is refused
  with ``OPSP8996``), at most 41 registrations per session (we keep 40).
- register / release: ``{"header": {"approval_key", "custtype": "P", "tr_type": "1"|"2",
  "content-type": "utf-8"}, "body": {"input": {"tr_id", "tr_key"}}}``; the reply is JSON with
  ``header.tr_id``/``tr_key`` and ``body.rt_cd``/``msg_cd``/``msg1``, and for the notice TRs the
  AES key and iv in ``body.output``.
- ``PINGPONG``: the server's JSON heartbeat, sent back as received.
- data: ``E|TRID|NNN|payload``: ``E`` 1 when AES-256-CBC encrypted (base64), ``NNN`` records of
  ``^``-separated fields.

No log line holds the app key, its secret, the approval key, an HTS ID or an account number.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from trading.brokers.base import Refused, UnknownOutcome

from . import Tick

logger = logging.getLogger("trading.realtime")
# websockets logs every frame at DEBUG, subscribe messages (approval key) included: never here.
WIRE_LOGGER = logging.getLogger("trading.realtime.wire")
WIRE_LOGGER.setLevel(logging.INFO)

APPROVAL_PATH = "/oauth2/Approval"
TR_TICKS = "H0STCNT0"
TR_NOTICE_REAL = "H0STCNI0"
TR_NOTICE_MOCK = "H0STCNI9"
NOTICE_TRS = frozenset({TR_NOTICE_REAL, TR_NOTICE_MOCK})
TICK_FIELDS = 46
NOTICE_FIELDS = 26

SUBSCRIBED, ALREADY_SUBSCRIBED = "OPSP0000", "OPSP0002"
UNSUBSCRIBED, NOT_SUBSCRIBED = "OPSP0001", "OPSP0003"
KEY_IN_USE = "OPSP8996"  # the approval key (app key) already has a session elsewhere
MAX_REGISTRATIONS = 40  # KIS allows 41 per session; the samples and python-kis keep 40

KST = dt.timezone(dt.timedelta(hours=9))
APPROVAL_KEEP_SECONDS = 20 * 3600.0  # the samples re-issue after a day; renew well before
PENDING_SECONDS = 5.0  # a registration asked this recently counts as carried (its answer is on the way)
Registration = tuple[str, str]  # (tr_id, tr_key)


# -- the approval key ---------------------------------------------------------------------------
def issue_approval_key(client: Any) -> str:
    """A websocket approval key for ``client``'s app key (a ``KisClient``: its base URL, its
    request budget). Raises ``Refused`` (``retryable`` when KIS did not answer)."""
    body = {"grant_type": "client_credentials", "appkey": client.credentials.app_key,
            "secretkey": client.credentials.app_secret}
    try:
        reply = client._send("POST", APPROVAL_PATH, headers={"content-type": "application/json; charset=utf-8"},
                             json=body)
    except UnknownOutcome as exc:  # an approval changes nothing at the broker: safe to ask again
        raise Refused(f"KIS did not answer the approval request ({exc.code})", code=exc.code, retryable=True) from None
    key = reply.body.get("approval_key")
    if reply.status == 200 and key:
        return str(key)
    raise Refused("KIS gave no websocket approval key", code=reply.code or f"http_{reply.status}",
                  retryable=reply.status >= 500)


# -- messages -----------------------------------------------------------------------------------
def subscribe_message(approval_key: str, tr_id: str, tr_key: str, *, register: bool = True) -> str:
    return json.dumps({"header": {"approval_key": approval_key, "custtype": "P", "tr_type": "1" if register else "2",
                                  "content-type": "utf-8"},
                       "body": {"input": {"tr_id": tr_id, "tr_key": tr_key}}})


@dataclass(frozen=True)
class Control:
    """A JSON reply: a registration's answer (``code`` = ``msg_cd``), or a ``PINGPONG``."""

    tr_id: str
    tr_key: str
    ok: bool
    code: str
    message: str
    key: str = ""
    iv: str = ""

    @property
    def is_ping(self) -> bool:
        return self.tr_id == "PINGPONG"


@dataclass(frozen=True)
class Data:
    encrypted: bool
    tr_id: str
    count: int
    payload: str


def parse_frame(text: str) -> Control | Data | None:
    """A text frame as ``Data`` (``E|TRID|NNN|payload``) or ``Control`` (JSON); None if neither."""
    if text[:1] in ("0", "1") and text[1:2] == "|":
        parts = text.split("|", 3)
        if len(parts) != 4:
            return None
        try:
            count = int(parts[2])
        except ValueError:
            return None
        return Data(parts[0] == "1", parts[1], count, parts[3])
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    header, body = message.get("header") or {}, message.get("body") or {}
    output = body.get("output") if isinstance(body.get("output"), dict) else {}
    return Control(tr_id=str(header.get("tr_id", "")), tr_key=str(header.get("tr_key", "")),
                   ok=str(body.get("rt_cd", "0")) == "0", code=str(body.get("msg_cd", "")),
                   message=str(body.get("msg1", "")), key=str(output.get("key", "")), iv=str(output.get("iv", "")))


def decrypt(payload: str, key: str, iv: str) -> str:
    """AES-256-CBC of a base64 payload with the subscribe reply's key and iv, PKCS#7 unpadded."""
    decryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).decryptor()
    padded = decryptor.update(base64.b64decode(payload)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


def encrypt(text: str, key: str, iv: str) -> str:
    """The inverse of ``decrypt`` (the fake server sends notices with it)."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def records(payload: str, count: int, width: int) -> list[list[str]]:
    """``count`` records of ``width`` fields each from one payload (records are concatenated)."""
    fields = payload.split("^")
    count = max(count, 1)
    if len(fields) < width * count:  # a shorter layout than documented: one record of what came
        return [fields] if count == 1 else []
    return [fields[i * width:(i + 1) * width] for i in range(count)]


# -- ticks ------------------------------------------------------------------------------------
def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None


def _signed(value: Decimal | None, sign: str) -> Decimal | None:
    """KIS sign codes: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down."""
    if value is None:
        return None
    return -abs(value) if sign in ("4", "5") else abs(value) if sign in ("1", "2") else value


def tick_from_fields(fields: list[str], *, today: dt.date) -> Tick | None:
    """A ``Tick`` from one ``H0STCNT0`` record (A8 field order); None when it has no price."""
    if len(fields) < 13:
        return None
    price = _number(fields[2])
    if price is None or price <= 0:
        return None
    day = today
    if len(fields) > 33 and len(fields[33]) == 8 and fields[33].isdigit():
        day = dt.date(int(fields[33][:4]), int(fields[33][4:6]), int(fields[33][6:]))
    hhmmss = fields[1].strip()
    at = dt.time(int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:6])) if len(hhmmss) >= 6 and hhmmss[:6].isdigit() \
        else dt.time(0, 0)
    return Tick(symbol=fields[0].strip(), price=price, at=dt.datetime.combine(day, at, KST),
                volume=_number(fields[12]), change=_signed(_number(fields[4]), fields[3].strip()),
                change_rate=_signed(_number(fields[5]), fields[3].strip()), source="kis")


# -- execution notices ------------------------------------------------------------------------
@dataclass(frozen=True)
class Notice:
    """One ``H0STCNI0``/``H0STCNI9`` record. ``filled``: a fill (CNTG_YN 2), whose ``quantity`` and
    ``price`` are the fill's; otherwise a receipt (order, revise, cancel, or a refusal)."""

    account_no: str
    order_no: str
    original_order_no: str
    side: str  # "buy" / "sell"
    symbol: str
    quantity: Decimal
    price: Decimal
    filled: bool
    refused: bool
    order_quantity: Decimal | None
    fill_id: str = ""  # what tells this fill from the order's others (the same notice twice is one fill)


def notice_from_fields(fields: list[str]) -> Notice | None:
    if len(fields) < 17:
        return None
    return Notice(account_no="".join(ch for ch in fields[1] if ch.isdigit()), order_no=fields[2].strip(),
                  original_order_no=fields[3].strip(), side="sell" if fields[4].strip() == "01" else "buy",
                  symbol=fields[8].strip(), quantity=_number(fields[9]) or Decimal(0),
                  price=_number(fields[10]) or Decimal(0), filled=fields[13].strip() == "2",
                  refused=fields[12].strip() == "1", order_quantity=_number(fields[16]),
                  # KIS numbers no fill: its time, quantity and price tell it (two alike in one second are one)
                  fill_id=f"{fields[11].strip()}:{fields[9].strip()}:{fields[10].strip()}")


def notice_tr(environment: str) -> str:
    return TR_NOTICE_MOCK if environment == "mock" else TR_NOTICE_REAL


# -- one session ------------------------------------------------------------------------------
class KeyInUse(Exception):
    """KIS refused the session: the app key has one open elsewhere (OPSP8996)."""


class SessionRefused(Exception):
    """KIS refused the first registration of a session: it is opened again with a new approval key."""


@dataclass
class Backoff:
    """Exponential back-off between reconnects: ``first`` doubling up to ``cap``."""

    first: float = 1.0
    cap: float = 60.0
    current: float = 0.0

    def next(self) -> float:
        self.current = self.first if not self.current else min(self.current * 2, self.cap)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


class KisStream:
    """One websocket session of one app key, kept alive until ``stop`` is set.

    ``approval()`` issues an approval key (kept ``APPROVAL_KEEP_SECONDS``; issued again after a
    refused session); ``wanted()`` lists the registrations wanted now, in order of preference
    (read again every ``reread_seconds``; only the first ``max_registrations`` are asked);
    ``on_data(tr_id, fields)`` gets each decoded record. After any drop it reconnects with
    exponential back-off and registers what is wanted again. ``active`` holds the registrations
    KIS confirmed in the current session (empty while disconnected).
    """

    def __init__(self, *, url: str, approval: Callable[[], str], wanted: Callable[[], Iterable[Registration]],
                 on_data: Callable[[str, list[str]], None], name: str = "kis",
                 max_registrations: int = MAX_REGISTRATIONS, reread_seconds: float = 3.0,
                 backoff: Backoff | None = None, open_timeout: float = 10.0) -> None:
        self.url = url
        self.approval = approval
        self.wanted = wanted
        self.on_data = on_data
        self.name = name
        self.max_registrations = max_registrations
        self.reread_seconds = reread_seconds
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.active: set[Registration] = set()
        self.refused: set[Registration] = set()  # refused in this session (e.g. over the cap): not asked again
        self.sessions = 0
        self._asked_at: dict[Registration, float] = {}  # sessions opened (tests and logs)
        self._asked: set[Registration] = set()
        self._ciphers: dict[str, tuple[str, str]] = {}
        self._approval: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<KisStream {self.name}>"

    # -- life ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Connect, serve, reconnect after any drop, until ``stop`` is set."""
        while not stop.is_set():
            try:
                self._session(stop)
            except KeyInUse:
                self._approval = None
                logger.warning("%s: KIS refused the session: the app key is in use by another session (%s)",
                               self.name, KEY_IN_USE)
            except SessionRefused:
                self._approval = None
            except Refused as exc:
                logger.warning("%s: no approval key: %s (%s)", self.name, exc.message, exc.code)
            except Exception as exc:  # noqa: BLE001 - any drop: reconnect
                logger.info("%s: websocket session ended (%s)", self.name, type(exc).__name__)
            finally:
                with self._lock:
                    self.active, self._asked = set(), set()
            if stop.is_set():
                break
            stop.wait(self.backoff.next())

    def _session(self, stop: threading.Event) -> None:
        from websockets.sync.client import connect

        key = self._approval_key()
        with connect(self.url, open_timeout=self.open_timeout, ping_interval=None, proxy=None, compression=None,
                     logger=WIRE_LOGGER) as socket:
            self.sessions += 1
            self.refused = set()
            logger.info("%s: websocket session open", self.name)
            next_sync = 0.0
            while not stop.is_set():
                if time.monotonic() >= next_sync:
                    self._sync(socket, key)
                    next_sync = time.monotonic() + self.reread_seconds
                try:
                    text = socket.recv(timeout=min(0.25, self.reread_seconds))
                except TimeoutError:
                    continue
                if isinstance(text, bytes):
                    text = text.decode("utf-8", "replace")
                self._handle(socket, text)

    def _approval_key(self) -> str:
        if self._approval is None or time.monotonic() - self._approval[1] > APPROVAL_KEEP_SECONDS:
            self._approval = (self.approval(), time.monotonic())
        return self._approval[0]

    # -- registrations ------------------------------------------------------------------------
    def carried(self) -> set[Registration]:
        """The registrations confirmed in this session, and those asked within ``PENDING_SECONDS``."""
        with self._lock:
            since = time.monotonic() - PENDING_SECONDS
            return self.active | {r for r in self._asked if self._asked_at.get(r, 0.0) > since}

    def _sync(self, socket: Any, key: str) -> None:
        """Register what is newly wanted (within the cap), release what is no longer wanted."""
        wanted: list[Registration] = []
        for registration in self.wanted():
            if registration not in wanted:
                wanted.append(registration)
        keep = set(wanted[:self.max_registrations])
        with self._lock:
            releases = sorted(self._asked - keep)
            for registration in releases:
                self._asked.discard(registration)
                self.active.discard(registration)
            additions = [r for r in wanted[:self.max_registrations] if r not in self._asked and r not in self.refused]
            self._asked.update(additions)
            self._asked_at.update(dict.fromkeys(additions, time.monotonic()))
        for tr_id, tr_key in releases:
            socket.send(subscribe_message(key, tr_id, tr_key, register=False))
        for tr_id, tr_key in additions:
            socket.send(subscribe_message(key, tr_id, tr_key))
        if releases or additions:
            logger.info("%s: %d registrations asked, %d released", self.name, len(additions), len(releases))

    def _handle(self, socket: Any, text: str) -> None:
        frame = parse_frame(text)
        if frame is None:
            return
        if isinstance(frame, Data):
            self._data(frame)
            return
        if frame.is_ping:
            socket.send(text)
            return
        self._control(frame)

    def _control(self, reply: Control) -> None:
        registration = (reply.tr_id, reply.tr_key)
        if reply.code == KEY_IN_USE:
            raise KeyInUse()
        if reply.key and reply.iv:
            self._ciphers[reply.tr_id] = (reply.key, reply.iv)
        with self._lock:
            if reply.ok and reply.code in (SUBSCRIBED, ALREADY_SUBSCRIBED):
                if registration in self._asked:
                    self.active.add(registration)
                self.backoff.reset()
            elif reply.code in (UNSUBSCRIBED, NOT_SUBSCRIBED):
                self.active.discard(registration)
            elif not reply.ok:
                self._asked.discard(registration)
                self.active.discard(registration)
                self.refused.add(registration)
                logger.warning("%s: KIS refused a %s registration (%s %s)", self.name, reply.tr_id, reply.code,
                               reply.message[:60])
                if not self.active:  # nothing taken at all (a stale approval key?): a new session, a new key
                    raise SessionRefused(reply.code)

    def _data(self, frame: Data) -> None:
        payload = frame.payload
        if frame.encrypted:
            cipher = self._ciphers.get(frame.tr_id)
            if cipher is None:
                logger.warning("%s: an encrypted %s frame before its key; dropped", self.name, frame.tr_id)
                return
            try:
                payload = decrypt(payload, *cipher)
            except (ValueError, UnicodeDecodeError):
                logger.warning("%s: a %s frame did not decrypt; dropped", self.name, frame.tr_id)
                return
        width = NOTICE_FIELDS if frame.tr_id in NOTICE_TRS else TICK_FIELDS if frame.tr_id == TR_TICKS else 0
        for fields in (records(payload, frame.count, width) if width else [payload.split("^")]):
            try:
                self.on_data(frame.tr_id, fields)
            except Exception:  # a bad record or a failing consumer must not end the session
                logger.exception("%s: a %s record could not be handled", self.name, frame.tr_id)


__all__ = ["Backoff", "Control", "Data", "KisStream", "Notice", "issue_approval_key", "notice_from_fields",
           "notice_tr", "parse_frame", "subscribe_message", "tick_from_fields"]
