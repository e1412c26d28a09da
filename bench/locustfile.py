"""The load test's user (locust): sign in, then dashboard, a new backtest, its results, orders,
positions and the live channel, with 1-5 s of think time between steps.

Run by ``python -m bench.loadtest`` from the locust venv (``.venv-load``, requirements-load.txt),
which passes, in the environment:

* ``LOAD_ACCOUNTS``: the JSON file of the seeded accounts (``bench.loadtest.seed_accounts``): a
  password, one entry per account (email, client address, finished run ids), the symbols and dates
  of the small backtest each user submits;
* ``LOAD_RECORDS``: where to write every request (time, kind, name, ms, error) when locust stops;
  ``bench.loadtest`` computes the figures from them, split at the moment every user had signed in;
* ``LOAD_USERS`` and ``LOAD_STEADY_SECONDS``: once that many users have tried to sign in, the
  steady phase starts, and locust quits that many seconds later;
* ``LOAD_WS_WAIT``: seconds the live channel stays open waiting for a first message.

Each user sends ``X-Forwarded-For`` with an address of its own: the stack trusts 127.0.0.1 as a
proxy (``TRUSTED_PROXIES``), as production trusts its reverse proxy, so allauth's per-address
sign-in limit (30 a minute) sees 500 people instead of one address signing in 500 times.

Requests are named by page, never by URL. A submission the product refuses on purpose (a plan
limit: runs at once, runs a day) answers 400 with a message at the top of the form: it is named
``new backtest (refused: plan limit)`` and is not a failure. This module imports locust: it is
loaded by locust only, never by the platform or its tests.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import sys
import time
from html.parser import HTMLParser

import gevent
from locust import HttpUser, SequentialTaskSet, between, events, task

# locust puts this file's folder first on sys.path, where bench/websocket.py (the benchmarks' own
# frame codec) would shadow the websocket-client package: import that one from site-packages.
_HERE = os.path.dirname(os.path.abspath(__file__))
_path, sys.path[:] = list(sys.path), [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.modules.pop("websocket", None)
try:
    import websocket
finally:
    sys.path[:] = _path

TIMEOUT = 60.0  # seconds: a request slower than that counts as an error (a browser gives up about then)
STATUS = re.compile(r'data-status="([a-z_]+)"')
NON_FIELD_ERRORS = 'data-testid="non-field-errors"'
FIELD_ERRORS = 'data-testid="field-error"'
ERROR_TEXT = re.compile(r'data-testid="(?:non-field-errors|field-error)"[^>]*>(.*?)</(?:div|p)>', re.S)
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

ACCOUNTS = json.loads(open(os.environ["LOAD_ACCOUNTS"]).read()) if os.environ.get("LOAD_ACCOUNTS") else {}
_next_account = itertools.count()
_records: list[list] = []  # [time, kind, name, ms, error or None]
_phase = {"signed_in": 0, "steady_since": None}


class FormFields(HTMLParser):
    """The fields a browser would send with the form marked ``data-testid=<testid>`` (buttons left out)."""

    def __init__(self, testid: str) -> None:
        super().__init__()
        self.testid, self.inside, self.fields = testid, False, {}
        self._select: str | None = None
        self._first_option: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("data-testid") == self.testid
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type", "text") not in ("submit", "button", "image", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[name] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.fields[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_fields(html: str, testid: str) -> dict[str, str]:
    parser = FormFields(testid)
    parser.feed(html)
    return parser.fields


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **kwargs) -> None:
    error = None if exception is None else str(exception)[:200]
    _records.append([time.time(), request_type, name, response_time, error])


@events.quitting.add_listener
def _write_records(environment, **kwargs) -> None:
    path = os.environ.get("LOAD_RECORDS")
    if path:
        with open(path, "w") as handle:
            json.dump({"steady_since": _phase["steady_since"], "records": _records}, handle)


def _signed_in(environment) -> None:
    """Count a finished sign-in; when every user has had theirs, start the steady phase and its clock."""
    _phase["signed_in"] += 1
    if _phase["steady_since"] is None and _phase["signed_in"] >= int(os.environ.get("LOAD_USERS", "0") or 1):
        _phase["steady_since"] = time.time()
        steady = float(os.environ.get("LOAD_STEADY_SECONDS", "0") or 0)
        if steady > 0 and environment.runner is not None:
            gevent.spawn_later(steady, environment.runner.quit)


class Journey(SequentialTaskSet):
    def page(self, path: str, name: str):
        """GET a page; one that sends the user back to the login page (a lost session) is a failure."""
        with self.client.get(path, name=name, timeout=TIMEOUT, catch_response=True) as response:
            if response.ok and "/accounts/login/" in response.url:
                response.failure("sent to the login page")
            return response

    @task
    def dashboard(self) -> None:
        self.page("/dashboard/", "dashboard")

    @task
    def new_backtest(self) -> None:
        page = self.page("/backtests/new/", "new backtest (form)")
        if page.status_code != 200 or "/accounts/login/" in page.url:
            return
        fields = form_fields(page.text, "backtest-form")
        if "csrfmiddlewaretoken" not in fields:
            return
        self.user.wait()
        fields.update(codes=random.choice(ACCOUNTS["codes"]), start=ACCOUNTS["start"], end=ACCOUNTS["end"],
                      cash=str(ACCOUNTS["cash"]), title="load test")
        with self.client.post("/backtests/new/", data=fields, name="new backtest (submit)", timeout=TIMEOUT,
                              allow_redirects=False, catch_response=True) as response:
            if response.status_code == 302 and "/backtests/" in response.headers.get("Location", ""):
                self.user.latest_run = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
                response.success()
            elif (response.status_code == 400 and NON_FIELD_ERRORS in response.text
                  and FIELD_ERRORS not in response.text):
                response.request_meta["name"] = "new backtest (refused: plan limit)"
                response.success()
            else:
                found = ERROR_TEXT.search(response.text or "")
                said = re.sub(r"<[^>]+>", " ", found.group(1)).split() if found else []
                response.failure(f"submit answered {response.status_code}: {' '.join(said)[:120]}")

    def _results(self, run_id: int) -> str | None:
        """GET a run's page, named by what answered: the edge cache, Django's results, or the progress page."""
        with self.client.get(f"/backtests/{run_id}/", name="results", timeout=TIMEOUT,
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"run page answered {response.status_code}")
                return None
            found = STATUS.search(response.text)
            status = found.group(1) if found else None
            if response.headers.get("X-Edge-Cache") == "hit":
                response.request_meta["name"] = "results (kept)"
            elif status == "succeeded":
                response.request_meta["name"] = "results (Django)"
            else:
                response.request_meta["name"] = "backtest (running)"
            response.success()
            return status

    @task
    def results(self) -> None:
        """The latest submission's page; a finished one is looked at again after a pause (the repeat is
        what the edge cache keeps, for EDGE_CACHE_SECONDS)."""
        run_id = self.user.latest_run or random.choice(self.user.finished)
        if self._results(run_id) == "succeeded":
            if run_id not in self.user.finished:
                self.user.finished.append(run_id)
        else:
            run_id = random.choice(self.user.finished)
            if self._results(run_id) != "succeeded":
                return
        self.user.wait()
        self._results(run_id)

    @task
    def orders(self) -> None:
        self.page("/trading/orders/", "orders")

    @task
    def positions(self) -> None:
        self.page("/trading/positions/", "positions")

    @task
    def live_channel(self) -> None:
        self.user.open_live_channel()


class Investor(HttpUser):
    wait_time = between(1, 5)
    tasks = [Journey]

    def on_start(self) -> None:
        index = next(_next_account)
        account = ACCOUNTS["accounts"][index % len(ACCOUNTS["accounts"])]
        self.email, self.finished, self.latest_run = account["email"], list(account["runs"]), None
        self.client.headers["X-Forwarded-For"] = account["address"]
        try:
            while not self.sign_in():
                self.wait()
        finally:
            _signed_in(self.environment)

    def sign_in(self) -> bool:
        page = self.client.get("/accounts/login/", name="login (form)", timeout=TIMEOUT)
        found = CSRF_INPUT.search(page.text) if page.status_code == 200 else None
        if found is None:
            return False
        body = {"login": self.email, "password": ACCOUNTS["password"], "csrfmiddlewaretoken": found.group(1)}
        with self.client.post("/accounts/login/", data=body, name="login", timeout=TIMEOUT, allow_redirects=False,
                              catch_response=True) as response:
            if response.status_code == 302 and "/accounts/login" not in response.headers.get("Location", ""):
                response.success()
                return True
            response.failure(f"login answered {response.status_code}")
            return False

    def open_live_channel(self) -> None:
        """Open /ws/user/ as the page does (session cookie, Origin), wait a moment for a message, close.
        Reported as ``WS live channel (open)``: the time to the completed handshake."""
        url = self.host.replace("http", "ws", 1) + "/ws/user/"
        cookies = "; ".join(f"{name}={value}" for name, value in self.client.cookies.items())
        started, error, length = time.perf_counter(), None, 0
        socket = None
        try:
            socket = websocket.create_connection(url, timeout=TIMEOUT, cookie=cookies, origin=self.host,
                                                 header=[f"X-Forwarded-For: {self.client.headers['X-Forwarded-For']}"])
            opened_ms = (time.perf_counter() - started) * 1000
            socket.settimeout(float(os.environ.get("LOAD_WS_WAIT", "1")))
            try:
                opcode, data = socket.recv_data(control_frame=True)
                length = len(data)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                    error = f"closed by the server ({code})"
            except websocket.WebSocketTimeoutException:
                pass  # nothing to tell within the wait: the channel is quiet, as it should be
        except (websocket.WebSocketException, OSError) as exc:
            opened_ms, error = (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}"
        finally:
            if socket is not None:
                try:
                    socket.close()
                except (websocket.WebSocketException, OSError):
                    pass
        events.request.fire(request_type="WS", name="live channel (open)", response_time=opened_ms,
                            response_length=length, exception=None if error is None else Exception(error),
                            context={})
