"""A fake Kiwoom websocket (broker-apis.md B8) beside the fake REST server, driven by tests.

``FakeKiwoomWs(rest)`` serves on 127.0.0.1: ``LOGIN`` with a token the REST fake issued (else
``return_code 8005``), ``REG``/``REMOVE`` answered ``{"trnm": "REG", "return_code": 0}``, ``PING``
echoes counted in ``pongs``. Tests push ``0B`` ticks (``push_tick``) to the connections registered
for the code, ``00`` order notices (``push_fill_notice``, ``push_receipt``) to the connections of the
account's key registered for ``00``, and ``drop_all()`` closes every connection; ``tick_demo()``
moves the REST fake's prices and streams them (``python -m trading.fakes kiwoom --demo``). Registration limits
are unconfirmed at Kiwoom: the fake has none.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from decimal import Decimal
from typing import Any

from trading.realtime.kis_ws import WIRE_LOGGER


class FakeKiwoomWs:
    def __init__(self, rest: Any, *, port: int = 0) -> None:
        self.rest = rest
        self.port = port
        self.lock = threading.RLock()
        self.pongs = 0
        self.logins = 0
        self._conns: dict[Any, dict[str, Any]] = {}  # socket -> {"app_key", "registrations"}
        self._server: Any = None
        self._fill_numbers = itertools.count(1)
        self._ticking = threading.Event()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/api/dostk/websocket"

    def start(self) -> FakeKiwoomWs:
        from websockets.sync.server import serve

        self._server = serve(self._serve, "127.0.0.1", self.port, ping_interval=None, compression=None,
                             logger=WIRE_LOGGER)
        threading.Thread(target=self._server.serve_forever, name="FakeKiwoomWs", daemon=True).start()
        return self

    def stop(self) -> None:
        self._ticking.set()
        self.drop_all()
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def _serve(self, socket: Any) -> None:
        state: dict[str, Any] = {"app_key": "", "registrations": set()}
        with self.lock:
            self._conns[socket] = state
        try:
            for text in socket:
                self._message(socket, state, json.loads(text))
        except Exception:  # noqa: BLE001 - a dropped connection
            pass
        finally:
            with self.lock:
                self._conns.pop(socket, None)

    def _message(self, socket: Any, state: dict[str, Any], message: dict[str, Any]) -> None:
        trnm = message.get("trnm")
        if trnm == "PING":
            with self.lock:
                self.pongs += 1
            return
        if trnm == "LOGIN":
            key, expires = self.rest.tokens.get(str(message.get("token", "")), ("", 0.0))
            ok = bool(key) and expires > self.rest.clock()
            with self.lock:
                state["app_key"] = key if ok else ""
                self.logins += ok
            socket.send(json.dumps({"trnm": "LOGIN", "return_code": 0 if ok else 8005,
                                    "return_msg": "" if ok else "[8005:Token이 유효하지 않습니다]"}))
            return
        if trnm in ("REG", "REMOVE") and state["app_key"]:
            with self.lock:
                for entry in message.get("data") or []:
                    for kind in entry.get("type") or []:
                        for item in entry.get("item") or []:
                            (state["registrations"].add if trnm == "REG" else state["registrations"].discard)(
                                (kind, item))
            socket.send(json.dumps({"trnm": trnm, "return_code": 0, "return_msg": ""}))

    # -- what tests drive ----------------------------------------------------------------------
    def registrations(self) -> set[tuple[str, str]]:
        with self.lock:
            return {r for state in self._conns.values() for r in state["registrations"]}

    def _push(self, wanted: tuple[str, str], record: dict[str, Any], app_key: str | None = None) -> int:
        with self.lock:
            targets = [s for s, state in self._conns.items() if wanted in state["registrations"]
                       and (app_key is None or state["app_key"] == app_key)]
        text, sent = json.dumps({"trnm": "REAL", "data": [record]}, ensure_ascii=False), 0
        for socket in targets:
            try:
                socket.send(text)
                sent += 1
            except Exception:  # noqa: BLE001 - closed meanwhile
                pass
        return sent

    def push_tick(self, code: str, price: Any, volume: Any = 1, *, change: Any = 0) -> int:
        price, change = Decimal(str(price)), Decimal(str(change))
        sign = "-" if change < 0 else "+" if change > 0 else ""
        base = price - change
        values = {"10": f"{sign}{price}", "11": f"{change}", "12": f"{change / base * 100:.2f}" if base else "0.00",
                  "15": f"+{volume}", "20": time.strftime("%H%M%S")}
        return self._push(("0B", code), {"type": "0B", "name": "주식체결", "item": code, "values": values})

    def push_fill_notice(self, account_no: str, order_no: str, qty: Any, price: Any, *, symbol: str = "005930",
                         side: str = "buy", order_qty: Any = None) -> int:
        return self._notice(account_no, order_no, symbol, side, "체결", order_qty or qty, qty, price)

    def push_receipt(self, account_no: str, order_no: str, qty: Any, price: Any, *, symbol: str = "005930",
                     side: str = "buy", refused: bool = False) -> int:
        return self._notice(account_no, order_no, symbol, side, "거부" if refused else "접수", qty, "", "")

    def _notice(self, account_no: str, order_no: str, symbol: str, side: str, status: str, order_qty: Any,
                qty: Any, price: Any) -> int:
        key = next((k for k, a in self.rest.accounts.items() if a.account_no == account_no), None)
        if key is None:
            return 0
        values = {"9201": account_no, "9203": order_no, "904": "0000000", "9001": f"A{symbol}", "913": status,
                  "907": "1" if side == "sell" else "2", "900": str(order_qty), "911": str(qty), "910": str(price),
                  "908": time.strftime("%H%M%S"), "909": str(next(self._fill_numbers)) if qty else ""}
        return self._push(("00", ""), {"type": "00", "name": "주문체결", "item": "", "values": values}, key)

    def tick_demo(self, *, every: float = 1.0) -> None:
        """Until ``stop()``: every ``every`` seconds each stock of the REST fake moves a tick up or
        down (its REST price too) and the print goes to its registered connections (hand demos)."""
        import random

        from .kis import tick_size

        rest = self.rest

        def walk() -> None:
            while not self._ticking.wait(every):
                for code, stock in list(rest.stocks.items()):
                    price = int(stock.price + tick_size(Decimal(stock.price)) * random.choice((-1, 0, 1)))
                    rest.set_price(code, price)
                    self.push_tick(code, price, random.randint(1, 50), change=price - stock.base)

        threading.Thread(target=walk, name="FakeKiwoomWs-demo", daemon=True).start()

    def ping(self) -> None:
        with self.lock:
            sockets = list(self._conns)
        for socket in sockets:
            try:
                socket.send(json.dumps({"trnm": "PING"}))
            except Exception:  # noqa: BLE001
                pass

    def drop_all(self) -> None:
        with self.lock:
            sockets = list(self._conns)
        for socket in sockets:
            try:
                socket.close()
            except Exception:  # noqa: BLE001
                pass


__all__ = ["FakeKiwoomWs"]
