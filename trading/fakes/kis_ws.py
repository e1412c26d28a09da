"""A fake KIS websocket (broker-apis.md A8) beside the fake REST server, driven by tests.

``FakeKisWs(rest)`` adds ``POST /oauth2/Approval`` to a ``FakeKis`` (checked against its accounts'
keys, ``secretkey`` as KIS names it) and serves the websocket on 127.0.0.1:

- register / release JSON with the approval key; replies carry ``msg_cd`` (``OPSP0000`` subscribed,
  ``OPSP0002`` already, ``OPSP0001`` released, ``OPSP0003`` was not registered) and, on every
  register, a fresh AES key (32 characters) and iv (16) in ``body.output``, as KIS sends them;
- one session per app key: a register from a second connection with the same key is answered
  ``OPSP8996``; more than ``max_registrations`` (41) in a session are refused (``OPSP0008``
  "MAX SUBSCRIBE OVER": the code is an assumption, no public source shows it);
- ticks go out plain (``0|H0STCNT0|001|…``, 46 fields), fill and receipt notices encrypted
  (``1|H0STCNI0|001|…`` or ``H0STCNI9`` for a mock key, 26 fields) to the connections registered;
- ``ping()`` sends a ``PINGPONG`` to every connection; ``pongs`` counts the echoes.

Tests drive it: ``push_tick(code, price, volume)``, ``push_fill_notice(hts_id, account, order_no,
qty, price)``, ``push_receipt``, ``drop_all()`` (every connection closed, as a network drop).
Without a REST fake any approval key is taken as the key of app key ``"any"``. ``tick_demo()`` moves
the REST fake's prices a tick at a time and streams them (``python -m trading.fakes kis --demo``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading.realtime.kis_ws import NOTICE_TRS, TICK_FIELDS, TR_TICKS, WIRE_LOGGER, encrypt

from .server import Answer, Request

MAX_REGISTRATIONS = 41
MAX_OVER = ("OPSP0008", "MAX SUBSCRIBE OVER")


@dataclass
class _Conn:
    socket: Any
    app_key: str = ""
    registrations: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)  # -> (key, iv)


class FakeKisWs:
    """Serve the fake websocket (``start()``/``stop()``, ``url``); see the module docstring."""

    def __init__(self, rest: Any = None, *, port: int = 0, max_registrations: int = MAX_REGISTRATIONS) -> None:
        self.rest = rest
        self.port = port
        self.max_registrations = max_registrations
        self.lock = threading.RLock()
        self.approvals: dict[str, str] = {}  # approval key -> app key
        self.approvals_issued = 0
        self.sessions_opened = 0
        self.pongs = 0
        self.received: list[dict[str, Any]] = []
        self._conns: list[_Conn] = []
        self._owner: dict[str, _Conn] = {}  # app key -> the connection holding its session
        self._server: Any = None
        self._ticking = threading.Event()
        if rest is not None:
            rest.route("POST", "/oauth2/Approval", self._approval)

    # -- the REST side ------------------------------------------------------------------------
    def _approval(self, request: Request) -> Answer:
        body = request.body
        account = self.rest.book.accounts.get(str(body.get("appkey", "")))
        if account is None or body.get("secretkey") != account.app_secret:
            return Answer(403, {"error_code": "EGW00103", "error_description": "유효하지 않은 AppKey입니다."})
        key = secrets.token_hex(18)
        with self.lock:
            self.approvals[key] = account.app_key
            self.approvals_issued += 1
        return Answer(200, {"approval_key": key})

    def environment(self, app_key: str) -> str:
        account = self.rest.book.accounts.get(app_key) if self.rest is not None else None
        return account.environment if account is not None else "real"

    # -- life -----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"

    def start(self) -> FakeKisWs:
        from websockets.sync.server import serve

        self._server = serve(self._serve, "127.0.0.1", self.port, ping_interval=None, compression=None,
                             logger=WIRE_LOGGER)
        threading.Thread(target=self._server.serve_forever, name="FakeKisWs", daemon=True).start()
        return self

    def stop(self) -> None:
        self._ticking.set()
        self.drop_all()
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> FakeKisWs:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- one connection ---------------------------------------------------------------------------
    def _serve(self, socket: Any) -> None:
        conn = _Conn(socket)
        with self.lock:
            self._conns.append(conn)
        try:
            for text in socket:
                self._message(conn, text)
        except Exception:  # noqa: BLE001 - a dropped connection
            pass
        finally:
            with self.lock:
                if conn in self._conns:
                    self._conns.remove(conn)
                if conn.app_key and self._owner.get(conn.app_key) is conn:
                    del self._owner[conn.app_key]

    def _message(self, conn: _Conn, text: Any) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        header = message.get("header") or {}
        if header.get("tr_id") == "PINGPONG":
            with self.lock:
                self.pongs += 1
            return
        with self.lock:
            self.received.append(message)
        tr = (message.get("body") or {}).get("input") or {}
        tr_id, tr_key = str(tr.get("tr_id", "")), str(tr.get("tr_key", ""))
        app_key = self.approvals.get(str(header.get("approval_key", ""))) if self.rest is not None else "any"
        if app_key is None:
            self._reply(conn, tr_id, tr_key, "1", "FAKE0003", "invalid approval key (the fake's own check)")
            return
        with self.lock:
            owner = self._owner.setdefault(app_key, conn)
            if owner is not conn:
                answer = ("1", "OPSP8996", "ALREADY IN USE appkey")
            else:
                conn.app_key = app_key
                answer = self._register(conn, tr_id, tr_key, header.get("tr_type") == "1")
        self._reply(conn, tr_id, tr_key, *answer)

    def _register(self, conn: _Conn, tr_id: str, tr_key: str, register: bool) -> tuple[str, ...]:
        registration = (tr_id, tr_key)
        if not register:
            if conn.registrations.pop(registration, None) is None:
                return "1", "OPSP0003", "UNSUBSCRIBE ERROR(not found!)"
            return "0", "OPSP0001", "UNSUBSCRIBE SUCCESS"
        if registration in conn.registrations:
            return "0", "OPSP0002", "ALREADY IN SUBSCRIBE", *conn.registrations[registration]
        if len(conn.registrations) >= self.max_registrations:
            return "1", *MAX_OVER
        cipher = (secrets.token_hex(16), secrets.token_hex(8))
        conn.registrations[registration] = cipher
        if len(conn.registrations) == 1:
            self.sessions_opened += 1
        return "0", "OPSP0000", "SUBSCRIBE SUCCESS", *cipher

    def _reply(self, conn: _Conn, tr_id: str, tr_key: str, rt_cd: str, code: str, text: str, key: str = "",
               iv: str = "") -> None:
        body: dict[str, Any] = {"rt_cd": rt_cd, "msg_cd": code, "msg1": text}
        if key:
            body["output"] = {"iv": iv, "key": key}
        self._send(conn, json.dumps({"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": "N"}, "body": body}))

    @staticmethod
    def _send(conn: _Conn, text: str) -> bool:
        try:
            conn.socket.send(text)
            return True
        except Exception:  # noqa: BLE001 - closed meanwhile
            return False

    # -- what tests drive ----------------------------------------------------------------------
    def registrations(self, app_key: str | None = None) -> set[tuple[str, str]]:
        with self.lock:
            return {r for c in self._conns if app_key is None or c.app_key == app_key for r in c.registrations}

    def connections(self) -> int:
        with self.lock:
            return len(self._conns)

    def push_tick(self, code: str, price: Any, volume: Any = 1, *, change: Any = 0, day: str = "",
                  at: str = "") -> int:
        """A trade print of ``code`` to every connection registered for it; how many got it."""
        price, change = Decimal(str(price)), Decimal(str(change))
        fields = ["0"] * TICK_FIELDS
        fields[0], fields[1], fields[2] = code, at or time.strftime("%H%M%S"), str(price)
        fields[3] = "2" if change > 0 else "5" if change < 0 else "3"
        fields[4] = str(abs(change))
        base = price - change
        fields[5] = f"{abs(change) / base * 100:.2f}" if base else "0.00"
        fields[12], fields[33] = str(volume), day or time.strftime("%Y%m%d")
        return self._broadcast(TR_TICKS, code, lambda cipher: f"0|{TR_TICKS}|001|" + "^".join(fields))

    def push_fill_notice(self, hts_id: str, account: str, order_no: str, qty: Any, price: Any, *,
                         symbol: str = "005930", side: str = "buy", order_qty: Any = None, at: str = "") -> int:
        """A fill notice (CNTG_YN 2, filled at ``at`` HHMMSS, default now) to the connections
        registered for ``hts_id``."""
        return self._notice(hts_id, account, order_no, qty, price, symbol=symbol, side=side,
                            order_qty=qty if order_qty is None else order_qty, filled=True, refused=False, at=at)

    def push_receipt(self, hts_id: str, account: str, order_no: str, qty: Any, price: Any, *,
                     symbol: str = "005930", side: str = "buy", refused: bool = False) -> int:
        """An order receipt (CNTG_YN 1), or a refusal with ``refused`` (RFUS_YN 1)."""
        return self._notice(hts_id, account, order_no, qty, price, symbol=symbol, side=side, order_qty=qty,
                            filled=False, refused=refused, at="")

    def _notice(self, hts_id: str, account: str, order_no: str, qty: Any, price: Any, *, symbol: str, side: str,
                order_qty: Any, filled: bool, refused: bool, at: str) -> int:
        fields = [""] * 26
        fields[0], fields[1], fields[2] = hts_id, "".join(ch for ch in account if ch.isdigit()), order_no
        fields[4], fields[6], fields[8] = "01" if side == "sell" else "02", "00", symbol
        fields[9], fields[10], fields[11] = str(qty), str(price), at or time.strftime("%H%M%S")
        fields[12], fields[13], fields[14] = "1" if refused else "0", "2" if filled else "1", "2"
        fields[16], fields[25] = str(order_qty), str(price)
        text = "^".join(fields)
        sent = 0
        for tr_id in NOTICE_TRS:
            sent += self._broadcast(tr_id, hts_id,
                                    lambda cipher, tr_id=tr_id: f"1|{tr_id}|001|" + encrypt(text, *cipher))
        return sent

    def _broadcast(self, tr_id: str, tr_key: str, frame: Any) -> int:
        with self.lock:
            targets = [(c, c.registrations[(tr_id, tr_key)]) for c in self._conns if (tr_id, tr_key) in c.registrations]
        return sum(self._send(conn, frame(cipher)) for conn, cipher in targets)

    def tick_demo(self, *, every: float = 1.0) -> None:
        """Until ``stop()``: every ``every`` seconds each listed symbol of the REST fake moves a tick
        up or down (its REST price too) and the print goes to its registered connections (hand demos)."""
        import random

        from .kis import tick_size

        rest = self.rest

        def walk() -> None:
            while not self._ticking.wait(every):
                for code, listed in list(rest.listed.items()):
                    price = listed.price + tick_size(listed.price) * random.choice((-1, 0, 1))
                    rest.set_price(code, price)
                    self.push_tick(code, price, random.randint(1, 50), change=price - listed.prev_close)

        threading.Thread(target=walk, name="FakeKisWs-demo", daemon=True).start()

    def ping(self) -> None:
        with self.lock:
            conns = list(self._conns)
        for conn in conns:
            self._send(conn, json.dumps({"header": {"tr_id": "PINGPONG", "datetime": time.strftime("%Y%m%d%H%M%S")}}))

    def drop_all(self) -> None:
        """Close every connection at once (a network drop: the sessions end)."""
        with self.lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.socket.close()
            except Exception:  # noqa: BLE001
                pass


__all__ = ["FakeKisWs"]
