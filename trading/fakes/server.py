"""A small threaded HTTP server that fake brokers build on: routing, a request log, scripted faults.

A fake subclasses ``FakeServer`` and registers handlers with ``route(method, path)``; a handler gets a
``Request`` and returns ``Answer``. Tests read ``requests`` (every request, with the time it arrived)
and ``max_per_window`` (the most requests any one-second window saw, per app key), and script faults
with ``fail_next(path, fault)``: ``"timeout"`` (the request is read, then no answer until the client
gives up), ``"reset"`` (the connection is closed without an answer), or an ``Answer`` to send instead.
``hold_next(path)`` stops the next request to ``path`` where a test wants the caller paused (before
the broker sees it, or after it carried it out): the test learns it arrived, acts (kills the
worker process that sent it, restarts a task broker), then lets it go on or drops it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]
    at: float  # time.time() on arrival

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Answer:
    status: int = 200
    body: dict[str, Any] | str = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Answer]

# a held request nobody releases goes on as dropped after this long (a test that failed midway)
HOLD_LIMIT_SECONDS = 60.0


@dataclass
class Hold:
    """A request held by ``FakeServer.hold_next``. ``carried_out``: held after the broker carried
    it out (its answer waits) rather than before it saw it."""

    path: str
    carried_out: bool
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    dropped: bool = False

    def wait_arrived(self, timeout: float) -> bool:
        return self.arrived.wait(timeout)

    def release(self, *, drop: bool = False) -> None:
        """Let the request go on; ``drop``: close its connection without an answer instead (held
        before: the broker never saw it; held after: it was carried out, its answer is lost)."""
        self.dropped = drop
        self.released.set()

    def _pause(self) -> bool:
        """Wait for the release; True when the request is dropped."""
        self.arrived.set()
        if not self.released.wait(HOLD_LIMIT_SECONDS):
            self.dropped = True
        return self.dropped


class FakeServer:
    """Serve on 127.0.0.1 (``port=0`` picks a free port) in a background thread."""

    # which header names the app key (for per-key request windows)
    app_key_header = "appkey"

    def __init__(self, port: int = 0) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._faults: dict[str, list[Any]] = {}
        self._holds: dict[str, list[Hold]] = {}  # per path, those not yet used
        self._every_hold: list[Hold] = []
        self.requests: list[Request] = []
        self.lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = port

    # -- routing ----------------------------------------------------------------------------
    def route(self, method: str, path: str, handler: Handler) -> None:
        self._routes[(method.upper(), path)] = handler

    def fail_next(self, path: str, fault: Any, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` get ``fault`` (see the module docstring)."""
        with self.lock:
            self._faults.setdefault(path, []).extend([fault] * times)

    def hold_next(self, path: str, *, carried_out: bool = False) -> Hold:
        """Hold the next request to ``path`` until ``release()``; before the broker sees it, or with
        ``carried_out`` after it was carried out (its answer waits). ``Hold.arrived`` tells when."""
        hold = Hold(path, carried_out)
        with self.lock:
            self._holds.setdefault(path, []).append(hold)
            self._every_hold.append(hold)
        return hold

    def release_holds(self) -> None:
        """Drop every hold still waiting or not yet used (a test's clean-up)."""
        with self.lock:
            waiting = [h for h in self._every_hold if not h.released.is_set()]
            self._holds.clear()
        for hold in waiting:
            hold.release(drop=True)

    def dispatch(self, request: Request) -> Answer | str:
        with self.lock:
            self.requests.append(request)
            queued = self._faults.get(request.path)
            fault = queued.pop(0) if queued else None
            holds = self._holds.get(request.path)
            hold = holds.pop(0) if holds else None
        if hold is not None and not hold.carried_out and hold._pause():
            return "reset"
        if fault is not None:
            return fault
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            return Answer(404, {"error": f"no such path {request.path}"})
        with self.lock:
            answer = handler(request)
        if hold is not None and hold.carried_out and hold._pause():
            return "reset"
        return answer

    # -- what tests read --------------------------------------------------------------------
    def count(self, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def max_per_window(self, *, window: float = 1.0, path_prefix: str = "", app_key: str | None = None) -> int:
        """The largest number of requests (optionally of one app key / path prefix) in any window."""
        with self.lock:
            times = sorted(
                r.at for r in self.requests
                if r.path.startswith(path_prefix)
                and (app_key is None or r.header(self.app_key_header) == app_key)
            )
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- life -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> FakeServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two sends: without this, Nagle and the client's delayed
            # ACK add ~40 ms to every answer
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                request = Request(
                    self.command, split.path, dict(parse_qsl(split.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()}, body if isinstance(body, dict) else {},
                    time.time(),
                )
                answer = server.dispatch(request)
                if answer == "timeout":
                    time.sleep(30)
                    self.close_connection = True
                    return
                if answer == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    self.connection.close()
                    return
                assert isinstance(answer, Answer)
                payload = answer.body if isinstance(answer.body, str) else json.dumps(answer.body, ensure_ascii=False)
                data = payload.encode("utf-8")
                self.send_response(answer.status)
                self.send_header("content-type", "application/json; charset=utf-8")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release_holds()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
