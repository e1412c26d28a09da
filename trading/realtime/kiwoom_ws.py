"""The Kiwoom websocket (broker-apis.md B8): ticks (``0B``), order and fill notices (``00``), one
session's life. Pure module (no Django), the same shape as ``kis_ws.KisStream``.

- connect ``…/api/dostk/websocket``, send ``{"trnm": "LOGIN", "token": <access token>}`` and wait for
  the ``LOGIN`` reply (``return_code`` 0; a refused token is dropped and the session opened again);
- ``REG`` / ``REMOVE`` ``{"grp_no": "1", "refresh": "1", "data": [{"item": [...], "type": [...]}]}``;
  a reply names no item, so each ``REG`` batch is confirmed (or refused) by the next ``REG`` reply;
- ``PING`` is sent back unchanged; ``REAL`` carries ``data: [{"type", "item", "values": {FID: value}}]``
  with signs inside the values (``-82000``: down, not negative).

Registration limits are unconfirmed (a third-party client keeps 95); ``max_registrations`` caps them.
No log line holds the token, the app key or an account number.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from . import Tick
from .kis_ws import KST, PENDING_SECONDS, WIRE_LOGGER, Backoff, Notice, Registration, SessionRefused

logger = logging.getLogger("trading.realtime")

TYPE_TICKS = "0B"
TYPE_ORDERS = "00"
MAX_REGISTRATIONS = 95
TOKEN_TROUBLE = frozenset({"8005", "8031", "8103"})  # reissue the token and connect again


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None


def _symbol(code: Any) -> str:
    text = str(code or "").strip().split("_")[0]
    return text[1:] if len(text) == 7 and text[0] in "AJQ" else text


def tick_from_values(item: str, values: dict[str, Any], *, today: dt.date) -> Tick | None:
    """A ``Tick`` from one ``0B`` record: ``10`` price, ``11`` change, ``12`` rate, ``15`` volume, ``20`` time."""
    price = _number(values.get("10"))
    if price is None or price == 0:
        return None
    hhmmss = str(values.get("20") or "").strip()
    at = dt.time(int(hhmmss[:2]), int(hhmmss[2:4]), int(hhmmss[4:6])) if len(hhmmss) >= 6 and hhmmss[:6].isdigit() \
        else dt.time(0, 0)
    volume = _number(values.get("15"))
    return Tick(symbol=_symbol(item), price=abs(price), at=dt.datetime.combine(today, at, KST),
                volume=abs(volume) if volume is not None else None, change=_number(values.get("11")),
                change_rate=_number(values.get("12")), source="kiwoom")


def notice_from_values(values: dict[str, Any]) -> Notice | None:
    """A ``Notice`` from one ``00`` record: ``9201`` account, ``9203`` order no., ``904`` original,
    ``9001`` code, ``907`` side (1 sell, 2 buy), ``913`` status, ``911``/``910`` this fill's quantity
    and price, ``909`` its fill number, ``900`` order quantity, ``919`` a refusal's reason."""
    order_no = str(values.get("9203") or "").strip()
    if not order_no:
        return None
    quantity = abs(_number(values.get("911")) or Decimal(0))
    status = str(values.get("913") or "")
    return Notice(account_no="".join(ch for ch in str(values.get("9201") or "") if ch.isdigit()), order_no=order_no,
                  original_order_no=str(values.get("904") or "").strip(),
                  side="sell" if str(values.get("907") or "").strip() == "1" else "buy",
                  symbol=_symbol(values.get("9001")), quantity=quantity,
                  price=abs(_number(values.get("910")) or Decimal(0)), filled="체결" in status and quantity > 0,
                  refused="거부" in status or bool(str(values.get("919") or "").strip()),
                  order_quantity=_number(values.get("900")),
                  fill_id=str(values.get("909") or "").strip()
                  or f"{values.get('908', '')}:{values.get('911', '')}:{values.get('910', '')}")


class KiwoomStream:
    """One Kiwoom websocket session of one app key, kept alive until ``stop`` is set (as ``KisStream``).

    ``token()`` gives the access token (the REST client's shared one), ``drop_token(token)`` forgets a
    refused one; ``wanted()`` lists ``(type, item)`` registrations in order of preference;
    ``on_data(type, record)`` gets each ``REAL`` record (``item``, ``values``).
    """

    def __init__(self, *, url: str, token: Callable[[], str], drop_token: Callable[[str], None],
                 wanted: Callable[[], Iterable[Registration]], on_data: Callable[[str, dict[str, Any]], None],
                 name: str = "kiwoom", max_registrations: int = MAX_REGISTRATIONS, reread_seconds: float = 3.0,
                 backoff: Backoff | None = None, open_timeout: float = 10.0) -> None:
        self.url, self.token, self.drop_token = url, token, drop_token
        self.wanted, self.on_data, self.name = wanted, on_data, name
        self.max_registrations, self.reread_seconds = max_registrations, reread_seconds
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.active: set[Registration] = set()
        self.refused: set[Registration] = set()
        self.sessions = 0
        self._asked_at: dict[Registration, float] = {}
        self._asked: set[Registration] = set()
        self._pending: deque[list[Registration]] = deque()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<KiwoomStream {self.name}>"

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._session(stop)
            except SessionRefused as exc:
                logger.warning("%s: Kiwoom refused the session (%s)", self.name, exc)
            except Exception as exc:  # noqa: BLE001 - any drop: reconnect
                logger.info("%s: websocket session ended (%s)", self.name, type(exc).__name__)
            finally:
                with self._lock:
                    self.active, self._asked, self._pending = set(), set(), deque()
            if stop.is_set():
                break
            stop.wait(self.backoff.next())

    def _session(self, stop: threading.Event) -> None:
        from websockets.sync.client import connect

        token = self.token()
        with connect(self.url, open_timeout=self.open_timeout, ping_interval=None, proxy=None, compression=None,
                     logger=WIRE_LOGGER) as socket:
            socket.send(json.dumps({"trnm": "LOGIN", "token": token}))
            self._login(socket, token)
            self.sessions += 1
            self.refused = set()
            logger.info("%s: websocket session open", self.name)
            next_sync = 0.0
            while not stop.is_set():
                if time.monotonic() >= next_sync:
                    self._sync(socket)
                    next_sync = time.monotonic() + self.reread_seconds
                try:
                    text = socket.recv(timeout=min(0.25, self.reread_seconds))
                except TimeoutError:
                    continue
                self._handle(socket, text if isinstance(text, str) else text.decode("utf-8", "replace"))

    def _login(self, socket: Any, token: str) -> None:
        deadline = time.monotonic() + self.open_timeout
        while time.monotonic() < deadline:
            message = json.loads(socket.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if message.get("trnm") != "LOGIN":
                continue
            code = str(message.get("return_code", ""))
            if code == "0":
                self.backoff.reset()
                return
            if code in TOKEN_TROUBLE:
                self.drop_token(token)
            raise SessionRefused(f"LOGIN {code}")
        raise SessionRefused("no LOGIN answer")

    def carried(self) -> set[Registration]:
        """The registrations confirmed in this session, and those asked within ``PENDING_SECONDS``."""
        with self._lock:
            since = time.monotonic() - PENDING_SECONDS
            return self.active | {r for r in self._asked if self._asked_at.get(r, 0.0) > since}

    def _sync(self, socket: Any) -> None:
        wanted: list[Registration] = []
        for registration in self.wanted():
            if registration not in wanted:
                wanted.append(registration)
        keep = wanted[:self.max_registrations]
        with self._lock:
            releases = sorted(self._asked - set(keep))
            for registration in releases:
                self._asked.discard(registration)
                self.active.discard(registration)
            additions = [r for r in keep if r not in self._asked and r not in self.refused]
            self._asked.update(additions)
            self._asked_at.update(dict.fromkeys(additions, time.monotonic()))
            if additions:
                self._pending.append(additions)
        for trnm, batch in (("REMOVE", releases), ("REG", additions)):
            for kind in sorted({k for k, _ in batch}):
                items = [item for k, item in batch if k == kind]
                socket.send(json.dumps({"trnm": trnm, "grp_no": "1", "refresh": "1",
                                        "data": [{"item": items, "type": [kind]}]}))

    def _handle(self, socket: Any, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        trnm = message.get("trnm")
        if trnm == "PING":
            socket.send(text)
        elif trnm == "REAL":
            for record in message.get("data") or []:
                try:
                    self.on_data(str(record.get("type", "")), record)
                except Exception:  # a bad record or a failing consumer must not end the session
                    logger.exception("%s: a %s record could not be handled", self.name, record.get("type"))
        elif trnm == "REG":
            self._registered(str(message.get("return_code", "")))
        elif trnm == "SYSTEM":
            logger.warning("%s: Kiwoom reports a server problem (SYSTEM)", self.name)

    def _registered(self, code: str) -> None:
        with self._lock:
            batch = self._pending.popleft() if self._pending else []
            batch = [r for r in batch if r in self._asked]
            if code == "0":
                self.active.update(batch)
                return
            self._asked.difference_update(batch)
            self.refused.update(batch)
            logger.warning("%s: Kiwoom refused %d registrations (%s)", self.name, len(batch), code)
            if not self.active:
                raise SessionRefused(f"REG {code}")


__all__ = ["KiwoomStream", "TYPE_ORDERS", "TYPE_TICKS", "notice_from_values", "tick_from_values"]
