"""Service benchmark: backtests through the whole platform, not just the engine.

    python -m backtests.bench_service [--mode embedded|full|both] [--json]
                                      [--connections 200] [--requests 2000]

Each mode gets an isolated environment in a temp dir (its own DATA_DIR; SQLite in embedded mode,
a fresh PostgreSQL database ``platform_bench`` + Redis db 9 in full mode), synthetic bars for
100 symbols x 10 years (the 1-year runs are date ranges of those), a user with a session and an
API token, and runs ``manage.py serve`` (plus, in full mode, ``celery -A config worker --pool
prefork --concurrency 1``) as subprocesses. It measures:

* submit-to-result: POST /api/v1/backtests/ until ``backtest.finished`` arrives on /ws/user/
  (1 symbol x 1 year and 10 symbols x 1 year, median and p95 over ``--submissions`` runs);
* peak memory of whatever ran the 100 symbols x 10 years backtest (VmHWM from /proc: the
  prefork worker's processes in full mode, the serve process in embedded mode);
* latency of the results page (/backtests/<id>/, session cookie) and of the results API
  (/api/v1/backtests/<id>/results/, token) for that 10-year run under ``--connections``
  concurrent connections, each sending its next request as soon as the last one is answered.
  The client behaves like a browser after its first visit: it sends back the cookies the server
  set (CSRF, language, theme, time zone) and accepts gzip. The load comes from ``wrk`` when it
  is installed (Debian: ``apt-get install wrk``; a C program, so the figures are the server's),
  else from a Python generator (httpx) that itself takes much of the CPU. The first two single
  requests are reported too: the first visit goes through Django, a repeat is the edge cache's.

Everything runs on this machine: the load generator shares the CPUs with the server.
The pure helpers (percentile, the websocket frame codec) are unit-tested; nothing here
is imported by the product.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

SYMBOLS = 100
YEARS = 10
SEED = 42
START = dt.date(2015, 1, 1)  # marketdata.synthetic.DEFAULT_START
END_1Y = dt.date(2015, 12, 31)
END_10Y = dt.date(2024, 12, 31)
PARAMS = {"fast": 10, "slow": 30}
CASH = 10_000_000_000

PG_URL = "postgres://postgres@127.0.0.1:5432"
PG_DB = "platform_bench"
REDIS_URL = "redis://127.0.0.1:6379/9"
EMAIL = "bench@example.com"
PASSWORD = "bench-password-0123456789"

TARGETS = {  # figure -> (limit, unit, what is compared)
    "submit_1x1y_ms": (300.0, "ms", "median"),
    "submit_10x1y_ms": (1000.0, "ms", "median"),
    "page_p95_ms": (100.0, "ms", "p95"),
    "api_p95_ms": (100.0, "ms", "p95"),
    "peak_memory_mb": (2048.0, "MB", "peak"),
}


# ---------------------------------------------------------------------------
# Pure helpers (unit-tested)
# ---------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
    }


OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def ws_encode_frame(payload: bytes, opcode: int = OP_TEXT, mask_key: bytes | None = None) -> bytes:
    """One final frame; clients must mask (RFC 6455 5.3), so ``mask_key`` defaults to random bytes."""
    mask_key = os.urandom(4) if mask_key is None else mask_key
    if len(mask_key) != 4:
        raise ValueError("the mask key is 4 bytes")
    head = bytes([0x80 | opcode])
    length = len(payload)
    if length < 126:
        head += bytes([0x80 | length])
    elif length < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", length)
    masked = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return head + mask_key + masked


def ws_parse_frame(buffer: bytes | bytearray) -> tuple[bool, int, bytes, int] | None:
    """Parse one frame from the start of ``buffer``: ``(fin, opcode, payload, bytes used)``,
    or None when the buffer does not hold a whole frame yet. Unmasks masked frames."""
    if len(buffer) < 2:
        return None
    first, second = buffer[0], buffer[1]
    fin, opcode = bool(first & 0x80), first & 0x0F
    masked, length = bool(second & 0x80), second & 0x7F
    offset = 2
    if length == 126:
        if len(buffer) < offset + 2:
            return None
        (length,) = struct.unpack("!H", bytes(buffer[offset : offset + 2]))
        offset += 2
    elif length == 127:
        if len(buffer) < offset + 8:
            return None
        (length,) = struct.unpack("!Q", bytes(buffer[offset : offset + 8]))
        offset += 8
    mask_key = b""
    if masked:
        if len(buffer) < offset + 4:
            return None
        mask_key = bytes(buffer[offset : offset + 4])
        offset += 4
    if len(buffer) < offset + length:
        return None
    payload = bytes(buffer[offset : offset + length])
    if masked:
        payload = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return fin, opcode, payload, offset + length


def ws_accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer to ``key``."""
    import hashlib

    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


def verdict(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    limit = TARGETS[name][0]
    return "PASS" if value < limit else "FAIL"


# ---------------------------------------------------------------------------
# A minimal blocking websocket client (text frames; answers pings)
# ---------------------------------------------------------------------------
class WebSocket:
    def __init__(self, host: str, port: int, path: str, headers: dict[str, str], timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = bytearray()
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"websocket handshake: connection closed ({bytes(self.buffer)[:200]!r})")
            self.buffer += chunk
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        self.buffer = bytearray(rest)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"websocket handshake refused: {status!r}")
        if ws_accept_key(key).encode() not in head:
            raise ConnectionError("websocket handshake: bad Sec-WebSocket-Accept")

    def recv_text(self, timeout: float) -> str | None:
        """The next text message, or None after ``timeout`` seconds without one."""
        deadline = time.monotonic() + timeout
        message = b""
        while True:
            frame = ws_parse_frame(self.buffer)
            if frame is not None:
                fin, opcode, payload, used = frame
                del self.buffer[:used]
                if opcode == OP_PING:
                    self.sock.sendall(ws_encode_frame(payload, OP_PONG))
                elif opcode == OP_CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    raise ConnectionError(f"websocket closed by the server (code {code})")
                elif opcode in (OP_TEXT, OP_CONT, OP_BINARY):
                    message += payload
                    if fin:
                        return message.decode()
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise ConnectionError("websocket: connection closed")
            self.buffer += chunk

    def close(self) -> None:
        try:
            self.sock.sendall(ws_encode_frame(struct.pack("!H", 1000), OP_CLOSE))
        except OSError:
            pass
        self.sock.close()


# ---------------------------------------------------------------------------
# /proc memory readings
# ---------------------------------------------------------------------------
def proc_status_kb(pid: int, field_name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_children(pid: int) -> list[int]:
    children: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children += [int(c) for c in handle.read().split()]
    except OSError:
        pass
    return children


def process_tree(pid: int) -> list[int]:
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += proc_children(current)
    return pids


# ---------------------------------------------------------------------------
# The environment
# ---------------------------------------------------------------------------
BOOTSTRAP = r"""
import json, os
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from allauth.account.models import EmailAddress
from accounts.models import User
from accounts.services import api_token_create
from marketdata.models import Instrument, Market
from marketdata.synthetic import synthetic_code

user = User.objects.create_user(email=os.environ["BENCH_EMAIL"], password=os.environ["BENCH_PASSWORD"])
EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
count = int(os.environ["BENCH_SYMBOLS"])
Instrument.objects.bulk_create(
    [Instrument(code=synthetic_code(i), name=f"합성{i}", market=Market.KOSPI) for i in range(count)],
    ignore_conflicts=True,
)
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
_, key = api_token_create(user=user, name="bench")
print("BENCH_BOOTSTRAP " + json.dumps({"user": user.pk, "session": session.session_key, "token": key,
                                        "cookie": settings.SESSION_COOKIE_NAME}))
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str], env: dict[str, str], *, timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def generate_bars(root: Path, env: dict[str, str]) -> None:
    run([PYTHON, "manage.py", "generate_sample_data", "--symbols", str(SYMBOLS), "--years", str(YEARS),
         "--seed", str(SEED), "--start", START.isoformat(), "--root", str(root)], env)  # fmt: skip


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_URL}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                   check=True, capture_output=True, text=True, timeout=60)  # fmt: skip


def redis_flush() -> None:
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True, timeout=30)


def drop_database() -> None:
    psql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


@dataclass
class Stack:
    mode: str
    workdir: Path
    market_root: Path
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, tuple[subprocess.Popen, Path]] = field(default_factory=dict)
    session: str = ""
    cookie: str = "sessionid"
    token: str = ""
    pool_max: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        data_dir = self.workdir / self.mode
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
                            "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE"}}  # fmt: skip
        env.update(
            DATA_DIR=str(data_dir),
            MARKET_DATA_ROOT=str(self.market_root),
            SITE_URL=self.url,
            DEBUG="False",
            API_THROTTLE_USER="100000000/min",
            API_THROTTLE_AUTH="100000/min",
            BACKTEST_MAX_SYMBOLS=str(SYMBOLS),
            PYTHONUNBUFFERED="1",
            BENCH_EMAIL=EMAIL,
            BENCH_PASSWORD=PASSWORD,
            BENCH_SYMBOLS=str(SYMBOLS),
        )
        if self.pool_max is not None:
            env["DATABASE_POOL_MAX"] = str(self.pool_max)
        if self.mode == "full":
            drop_database()
            psql(f"CREATE DATABASE {PG_DB}")
            redis_flush()
            env.update(DATABASE_URL=f"{PG_URL}/{PG_DB}", REDIS_URL=REDIS_URL)
        self.env = env
        run([PYTHON, "manage.py", "migrate", "--noinput"], env)
        out = run([PYTHON, "manage.py", "shell", "-c", BOOTSTRAP], env)
        line = next(line for line in out.splitlines() if line.startswith("BENCH_BOOTSTRAP "))
        boot = json.loads(line.split(" ", 1)[1])
        self.session, self.cookie, self.token = boot["session"], boot["cookie"], boot["token"]

        commands = {"server": [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-beat"]}
        if self.mode == "full":
            commands["worker"] = [PYTHON, "-m", "celery", "-A", "config", "worker", "-l", "WARNING",
                                  "--pool", "prefork", "--concurrency", "1", "--without-gossip",
                                  "--without-mingle", "--without-heartbeat"]  # fmt: skip
        for name, command in commands.items():
            log = data_dir / f"{name}.log"
            with open(log, "wb") as handle:
                proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)  # fmt: skip
            self.processes[name] = (proc, log)
        self.wait_healthy()
        if self.mode == "full":
            self.wait_worker()

    def output(self) -> str:
        parts = []
        for name, (proc, log) in self.processes.items():
            try:
                text = log.read_text(errors="replace")[-4000:]
            except OSError:
                text = "(no output)"
            parts.append(f"----- {name} (exit code {proc.poll()}) -----\n{text}")
        return "\n".join(parts)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            dead = [name for name, (proc, _) in self.processes.items() if proc.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited before /health answered\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"/health did not answer within {timeout:.0f} s\n{self.output()}")
            time.sleep(0.2)

    def wait_worker(self, timeout: float = 60) -> None:
        """Until the prefork worker has its child (it consumes from then on)."""
        proc, _ = self.processes["worker"]
        deadline = time.monotonic() + timeout
        while not proc_children(proc.pid):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start\n{self.output()}")
            time.sleep(0.2)

    def memory_pids(self) -> list[int]:
        """The processes that run backtests: the worker's tree (full) or the serve process (embedded)."""
        name = "worker" if self.mode == "full" else "server"
        proc, _ = self.processes[name]
        return process_tree(proc.pid) if self.mode == "full" else [proc.pid]

    def stop(self) -> None:
        for proc, _ in self.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc, _ in self.processes.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self.mode == "full":
            try:
                drop_database()
                redis_flush()
            except (subprocess.SubprocessError, OSError) as error:
                print(f"cleanup: {error}", file=sys.stderr)


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------
def codes_for(count: int, rotation: int) -> list[str]:
    from marketdata.synthetic import synthetic_code

    first = (rotation * count) % SYMBOLS
    return [synthetic_code((first + i) % SYMBOLS) for i in range(count)]


class Submitter:
    """Submits backtests over the API and waits for ``backtest.finished`` on the user's websocket."""

    def __init__(self, stack: Stack) -> None:
        import httpx

        self.stack = stack
        self.http = httpx.Client(base_url=stack.url, headers={"Authorization": f"Token {stack.token}"}, timeout=60)
        self.ws = WebSocket("127.0.0.1", stack.port, "/ws/user/", {
            "Origin": stack.url, "Cookie": f"{stack.cookie}={stack.session}",
        })  # fmt: skip
        self.early: dict[int, dict] = {}  # finished events read while waiting for another run
        self.queue_wait_ms: list[float] = []
        self.run_ms: list[float] = []

    def submit(self, codes: list[str], end: dt.date, timeout: float = 600) -> tuple[float, int]:
        """Seconds from the POST to ``backtest.finished``; and the run id."""
        body = {"strategy_type": "sma_cross", "params": PARAMS, "codes": codes, "start": START.isoformat(),
                "end": end.isoformat(), "cash": CASH, "accounts": "independent"}  # fmt: skip
        started = time.perf_counter()
        response = self.http.post("/api/v1/backtests/", json=body)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"POST /api/v1/backtests/ answered {response.status_code}: {response.text[:500]}")
        run_id = response.json()["id"]
        event = self.early.pop(run_id, None)
        deadline = time.monotonic() + timeout
        while event is None:
            text = self.ws.recv_text(max(0.0, deadline - time.monotonic()))
            if text is None:
                raise RuntimeError(f"no backtest.finished for run {run_id} within {timeout:.0f} s\n{self.stack.output()}")
            message = json.loads(text)
            if message.get("event") != "backtest.finished":
                continue
            if message["payload"]["id"] == run_id:
                event = message
            else:
                self.early[message["payload"]["id"]] = message
        elapsed = time.perf_counter() - started
        if event["payload"]["status"] != "succeeded":
            raise RuntimeError(f"run {run_id} ended {event['payload']['status']}: {event['payload'].get('error')}")
        detail = self.http.get(f"/api/v1/backtests/{run_id}/").json()  # not timed: where the time went
        if detail.get("started_at") and detail.get("created_at"):
            wait = dt.datetime.fromisoformat(detail["started_at"]) - dt.datetime.fromisoformat(detail["created_at"])
            self.queue_wait_ms.append(wait.total_seconds() * 1000)
        if detail.get("duration_s") is not None:
            self.run_ms.append(float(detail["duration_s"]) * 1000)
        return elapsed, run_id

    def take_breakdown(self) -> dict[str, Any]:
        """created -> started (broker + worker pickup) and the run's own duration_s, since the last call."""
        out = {"queue_wait_ms": summarize(self.queue_wait_ms), "run_duration_ms": summarize(self.run_ms)}
        self.queue_wait_ms, self.run_ms = [], []
        return out

    def close(self) -> None:
        self.ws.close()
        self.http.close()


async def _hammer(url: str, headers: dict[str, str], connections: int, total: int) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []  # every answer, errors too (throughput)
    ok_latencies: list[float] = []  # 200s only (the percentiles: a fast 500 is no success)
    errors: dict[str, int] = {}
    sizes: list[int] = []
    remaining = total

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client:

        async def one_connection() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                began = time.perf_counter()
                try:
                    response = await client.get(url)
                    body = response.content
                except httpx.HTTPError as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    continue
                elapsed = time.perf_counter() - began
                latencies.append(elapsed)
                if response.status_code != 200:
                    errors[f"HTTP {response.status_code}"] = errors.get(f"HTTP {response.status_code}", 0) + 1
                else:
                    ok_latencies.append(elapsed)
                    sizes.append(len(body))

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        wall = time.perf_counter() - started

    ms = [value * 1000 for value in ok_latencies]
    return {
        "requests": total,
        "connections": connections,
        "ok": len(sizes),
        "errors": errors,
        "latency_of": "200 responses only",
        "p50_ms": percentile(ms, 50) if ms else None,
        "p95_ms": percentile(ms, 95) if ms else None,
        "p99_ms": percentile(ms, 99) if ms else None,
        "max_ms": max(ms) if ms else None,
        "throughput_rps": len(latencies) / wall if wall else None,  # answers per second, errors included
        "ok_rps": len(ok_latencies) / wall if wall else None,
        "body_bytes": int(statistics.median(sizes)) if sizes else None,
        "wall_s": wall,
    }


def hammer(url: str, headers: dict[str, str], connections: int, total: int) -> dict[str, Any]:
    import httpx

    with httpx.Client(headers=headers, timeout=60) as client:  # warm-up (caches, connections to the DB)
        for _ in range(5):
            client.get(url)
    return asyncio.run(_hammer(url, headers, connections, total))


WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  io.write(string.format("WRK_JSON {\"requests\": %d, \"duration_us\": %d, \"bytes\": %d, " ..
    "\"status_errors\": %d, \"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, " ..
    "\"timeouts\": %d, \"p50_us\": %d, \"p95_us\": %d, \"p99_us\": %d, \"max_us\": %d}\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def parse_wrk(output: str, connections: int) -> dict[str, Any]:
    """wrk's figures (the ``done`` hook of :data:`WRK_SCRIPT`) in the shape of :func:`_hammer`'s."""
    line = next((line for line in output.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures:\n{output[-2000:]}")
    w = json.loads(line.split(" ", 1)[1])
    wall = w["duration_us"] / 1e6
    errors = {name: w[key] for name, key in (("HTTP non-2xx/3xx", "status_errors"), ("connect", "connect_errors"),
                                              ("read", "read_errors"), ("write", "write_errors"),
                                              ("timeout", "timeouts")) if w[key]}  # fmt: skip
    ok = w["requests"] - w["status_errors"]
    return {
        "generator": "wrk",
        "requests": w["requests"],
        "connections": connections,
        "ok": ok,
        "errors": errors,
        "latency_of": "every answer (wrk)",
        "p50_ms": w["p50_us"] / 1000,
        "p95_ms": w["p95_us"] / 1000,
        "p99_ms": w["p99_us"] / 1000,
        "max_ms": w["max_us"] / 1000,
        "throughput_rps": w["requests"] / wall if wall else None,
        "ok_rps": ok / wall if wall else None,
        "body_bytes": int(w["bytes"] / w["requests"]) if w["requests"] else None,
        "wall_s": wall,
    }


def browser_headers(url: str, headers: dict[str, str]) -> tuple[dict[str, str], float]:
    """A browser's first visit (through Django; its milliseconds are returned too), and the headers
    it sends from then on: the cookies the server set (CSRF, language, theme, time zone) next to
    the ones it was given, and gzip in Accept-Encoding."""
    import httpx

    with httpx.Client(headers=headers, timeout=60) as client:
        began = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - began) * 1000
        cookies = dict(response.cookies)
    given = headers.get("Cookie", "")
    extra = "; ".join(f"{name}={value}" for name, value in cookies.items() if f"{name}=" not in given)
    out = {**headers, "Accept-Encoding": "gzip"}
    if given or extra:
        out["Cookie"] = "; ".join(part for part in (given, extra) if part)
    return out, elapsed


def hammer_wrk(wrk: str, url: str, headers: dict[str, str], connections: int, seconds: float,
               workdir: Path) -> dict[str, Any]:  # fmt: skip
    script = workdir / "latency.lua"
    script.write_text(WRK_SCRIPT)
    command = [wrk, "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    return parse_wrk(done.stdout, connections)


def first_answer_ms(url: str, headers: dict[str, str]) -> tuple[float, str]:
    """One request's time and its X-Edge-Cache header."""
    import httpx

    with httpx.Client(headers=headers, timeout=60) as client:
        began = time.perf_counter()
        response = client.get(url)
        return (time.perf_counter() - began) * 1000, response.headers.get("X-Edge-Cache", "miss")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_mode(mode: str, workdir: Path, market_root: Path, args: argparse.Namespace) -> dict[str, Any]:
    stack = Stack(mode=mode, workdir=workdir, market_root=market_root, pool_max=args.pool_max)
    result: dict[str, Any] = {"mode": mode}
    try:
        log(f"{mode}: migrating, bootstrapping, starting the server")
        stack.start()
        submitter = Submitter(stack)
        try:
            for i in range(2):  # warm-up: imports, first DB connections, the worker's first task
                submitter.submit(codes_for(10, i), END_1Y)
            submitter.take_breakdown()
            for label, count in (("1x1y", 1), ("10x1y", 10)):
                log(f"{mode}: {args.submissions} submissions of {label}")
                times = [submitter.submit(codes_for(count, i), END_1Y)[0] * 1000 for i in range(args.submissions)]
                result[f"submit_{label}_ms"] = summarize(times)
                result[f"breakdown_{label}"] = submitter.take_breakdown()
            if args.latency_symbols != SYMBOLS:
                log(f"{mode}: {args.latency_symbols}x{YEARS}y run (latency)")
                seconds, latency_run = submitter.submit(codes_for(args.latency_symbols, 0), END_10Y)
                result["latency_run"] = {"id": latency_run, "symbols": args.latency_symbols, "years": YEARS,
                                         "submit_to_result_s": seconds}  # fmt: skip

            pids = stack.memory_pids()
            before = {pid: proc_status_kb(pid, "VmRSS") for pid in pids}
            log(f"{mode}: {SYMBOLS}x{YEARS}y run (memory)")
            seconds, big_run = submitter.submit(codes_for(SYMBOLS, 0), END_10Y)
            pids = stack.memory_pids()
            peaks = {pid: proc_status_kb(pid, "VmHWM") for pid in pids}
            result["big_run"] = {"id": big_run, "symbols": SYMBOLS, "years": YEARS, "submit_to_result_s": seconds}
            if args.latency_symbols == SYMBOLS:
                result["latency_run"], latency_run = result["big_run"], big_run
            result["memory"] = {
                "measured": "VmHWM of the prefork worker's processes (parent and child)" if mode == "full"
                else "VmHWM of the serve process (daphne + embedded worker threads)",
                "rss_before_kb": before,
                "vmhwm_kb": peaks,
                "peak_mb": max(v for v in peaks.values() if v is not None) / 1024,
            }
        finally:
            submitter.close()

        cookie = {"Cookie": f"{stack.cookie}={stack.session}"}
        token = {"Authorization": f"Token {stack.token}"}
        wrk = None if args.generator == "python" else shutil.which("wrk")
        if args.generator == "wrk" and wrk is None:
            raise RuntimeError("--generator wrk: wrk is not installed (Debian: apt-get install wrk)")
        for label, path, headers in (
            ("page", f"/backtests/{latency_run}/", cookie),
            ("api", f"/api/v1/backtests/{latency_run}/results/", token),
            # the trades table's second page: a query string, never kept, so every answer is Django's
            ("django_page", f"/backtests/{latency_run}/?page=2", cookie),
        ):
            url = stack.url + path
            headers, first_ms = browser_headers(url, headers)
            for _ in range(4):  # kept from the first request that sends the cookies back, in each server process
                again_ms, cache = first_answer_ms(url, headers)
            if wrk is not None:
                log(f"{mode}: wrk, {args.duration:g} s of GET {path} over {args.connections} connections")
                figures_ = hammer_wrk(wrk, url, headers, args.connections, args.duration, stack.workdir)
            else:
                log(f"{mode}: {args.requests} GET {path} over {args.connections} connections (Python generator)")
                figures_ = {"generator": "python (httpx)", **hammer(url, headers, args.connections, args.requests)}
            result[f"{label}_latency"] = {**figures_, "first_ms": first_ms,
                                          "second": {"ms": again_ms, "x_edge_cache": cache}}
        server = stack.processes["server"][0].pid
        result["server_vmhwm_kb"] = {pid: proc_status_kb(pid, "VmHWM") for pid in process_tree(server)}
    finally:
        stack.stop()
    return result


def figures(result: dict[str, Any]) -> dict[str, float | None]:
    def get(*keys):
        value: Any = result
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    return {
        "submit_1x1y_ms": get("submit_1x1y_ms", "median"),
        "submit_10x1y_ms": get("submit_10x1y_ms", "median"),
        "page_p95_ms": get("page_latency", "p95_ms"),
        "api_p95_ms": get("api_latency", "p95_ms"),
        "peak_memory_mb": get("memory", "peak_mb"),
    }


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    rows = [f"{'figure':<34}{'mode':<10}{'value':>34}  {'target':<12}verdict"]
    rows.append("-" * len(rows[0]))
    for result in results:
        mode = result["mode"]
        if "error" in result:
            rows.append(f"{'(failed)':<34}{mode:<10}{result['error'][:200]}")
            continue
        for label in ("1x1y", "10x1y"):
            s = result.get(f"submit_{label}_ms", {})
            value = f"median {fmt(s.get('median'))} / p95 {fmt(s.get('p95'))} ms" if s.get("n") else "-"
            name = f"submit_{label}_ms"
            rows.append(f"{'submit-to-result ' + label:<34}{mode:<10}{value:>34}  "
                        f"{'< ' + fmt(TARGETS[name][0]) + ' ms':<12}{verdict(name, figures(result)[name])}")  # fmt: skip
            b = result.get(f"breakdown_{label}", {})
            if b.get("queue_wait_ms", {}).get("n"):
                extra = (f"queued {fmt(b['queue_wait_ms']['median'])} + ran "
                         f"{fmt(b['run_duration_ms'].get('median'))} ms (median)")  # fmt: skip
                rows.append(f"{'  created->started, duration_s':<34}{mode:<10}{extra:>34}")
        for label, name in (("page", "page_p95_ms"), ("api", "api_p95_ms"), ("django_page", None)):
            s = result.get(f"{label}_latency", {})
            value = (f"p50 {fmt(s.get('p50_ms'))} p95 {fmt(s.get('p95_ms'))} p99 {fmt(s.get('p99_ms'))} ms"
                     if s else "-")  # fmt: skip
            title = "page ?page=2 (Django)" if name is None else "results " + label
            target, judged = ("p95 < 100ms", verdict(name, figures(result)[name])) if name else ("(no target)", "")
            rows.append(f"{title + ' @' + str(args.connections) + ' conns':<34}{mode:<10}{value:>34}  "
                        f"{target:<12}{judged}")  # fmt: skip
            if s:
                errors = sum(s["errors"].values())
                extra = (f"{fmt(s['ok_rps'], 0)} ok/s, {s['ok']}/{s['requests']} ok, {fmt(s['body_bytes'])} B, "
                         f"{s.get('generator', 'python')}")  # fmt: skip
                rows.append(f"{'  throughput':<34}{mode:<10}{extra:>34}  {'':<12}{'errors ' + json.dumps(s['errors']) if errors else ''}")
                if "first_ms" in s:
                    again = s["second"]
                    extra = f"first {fmt(s['first_ms'])} ms, repeat {fmt(again['ms'], 1)} ms ({again['x_edge_cache']})"
                    rows.append(f"{'  first visit / repeat':<34}{mode:<10}{extra:>34}")
        big = result.get("big_run", {})
        mem = result.get("memory", {})
        value = f"{fmt(mem.get('peak_mb'))} MB (run {fmt(big.get('submit_to_result_s'), 1)} s)" if mem else "-"
        rows.append(f"{'peak memory ' + str(SYMBOLS) + 'x' + str(YEARS) + 'y':<34}{mode:<10}{value:>34}  "
                    f"{'< 2,048 MB':<12}{verdict('peak_memory_mb', figures(result)['peak_memory_mb'])}")  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m backtests.bench_service")
    parser.add_argument("--mode", choices=["embedded", "full", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000, help="Python generator: requests per target")
    parser.add_argument("--duration", type=float, default=10.0, help="wrk: seconds per target (default 10)")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator: wrk when installed (auto), or the Python one (httpx, same CPUs)")
    parser.add_argument("--submissions", type=int, default=20, help="timed submissions per size (default 20)")
    parser.add_argument("--latency-symbols", type=int, default=10, choices=[10, SYMBOLS],
                        help="symbols of the 10-year run whose results are hammered (default 10)")
    parser.add_argument("--pool-max", type=int, default=None,
                        help="full mode: DATABASE_POOL_MAX of the server (default: the settings' own, 20)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs) after the run")
    args = parser.parse_args(argv)

    modes = ["embedded", "full"] if args.mode == "both" else [args.mode]
    workdir = Path(tempfile.mkdtemp(prefix="bench-service-"))
    results: list[dict[str, Any]] = []
    try:
        market_root = workdir / "marketdata"
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
        env["DATA_DIR"] = str(workdir / "gen")
        log(f"generating {SYMBOLS} symbols x {YEARS} years of synthetic bars in {market_root}")
        generate_bars(market_root, env)
        for mode in modes:
            try:
                results.append(bench_mode(mode, workdir, market_root, args))
            except Exception as error:  # report the other mode anyway
                results.append({"mode": mode, "error": f"{type(error).__name__}: {error}"})
                log(f"{mode} failed: {error}")
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    summary = {
        "machine": {"cpus": os.cpu_count(), "loadavg_after": os.getloadavg()},
        "settings": {"connections": args.connections, "generator": args.generator, "duration_s": args.duration,
                     "requests": args.requests, "submissions": args.submissions,
                     "latency_run": f"{args.latency_symbols} symbols x {YEARS} years",
                     "pool_max": args.pool_max if args.pool_max is not None else "settings default"},
        "targets": {name: {"limit": limit, "unit": unit, "compared": what} for name, (limit, unit, what) in TARGETS.items()},
        "results": [
            {**result, "figures": figures(result),
             "verdicts": {name: verdict(name, value) for name, value in figures(result).items()}}
            for result in results
        ],
    }  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(table(results, args))
        print(f"\n{os.cpu_count()} CPUs; load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}. "
              f"Latency run: {args.latency_symbols} symbols x {YEARS} years; the load generator runs on the same machine.")
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
