"""Tick to browser latency: ``--clients`` websocket clients on one symbol against the full stack.

Starts ``--servers`` daphne processes on a PostgreSQL database of its own and the Redis channel
layer, opens the clients on ``/ws/realtime/<code>/`` spread evenly over them (one signed-in user,
as many tabs), publishes ``--ticks`` ticks through ``trading.realtime.fanout.publish_tick`` (what
an upstream feed calls) and times each tick from the moment it is published to the moment each
client's socket has it. Also counts the upstream subscriptions the feeds would hold
(``interest_symbols()``: one, however many clients) and the members of the symbol's group.

    .venv/bin/python -m bench.realtime --clients 1000

The clients run on asyncio protocols in this process; an arrival is stamped when its bytes are
read, so the figure includes the client's own share of the machine (on two cores, a real one).
The same machinery serves the full-stack fan-out test (``trading/realtime/tests``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.stats import percentile
from bench.websocket import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, ws_encode_frame, ws_parse_frame

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SEOUL = ZoneInfo("Asia/Seoul")
SYMBOL = "005930"
PG_URL = "postgres://postgres@127.0.0.1:5432"
PG_DB = "realtime_bench"
REDIS_URL = "redis://127.0.0.1:6379/12"
EMAIL = "realtime.bench@example.com"
TARGET_P99_MS = 100.0


# ---------------------------------------------------------------------------
# A websocket client on an asyncio protocol
# ---------------------------------------------------------------------------
class TickClient(asyncio.Protocol):
    """One browser tab: the handshake, then every tick's arrival time by its price."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.chunks: list[tuple[float, bytes]] = []
        self.arrivals: dict[str, float] = {}  # price -> time.time() it arrived
        self.messages: list[dict] = []
        self.close_code: int | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()  # the arrival: stamped and stored, parsed later (off the timing path)
        if self.opened.done():
            self.chunks.append((now, data))
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
        rest = bytes(self.buffer[end + 4 :])
        self.buffer.clear()
        if b" 101 " not in status + b" ":
            self.opened.set_exception(ConnectionError(f"handshake refused: {status!r}"))
            return
        self.opened.set_result(None)
        if rest:
            self.chunks.append((now, rest))
        self.drain()

    def drain(self) -> None:
        """Parse what arrived: each tick's arrival is the time of the bytes that completed its frame;
        pings are answered, a close frame's code kept."""
        chunks, self.chunks = self.chunks, []
        for arrived, data in chunks:
            self.buffer += data
            while (frame := ws_parse_frame(self.buffer)) is not None:
                _, opcode, payload, used = frame
                del self.buffer[:used]
                if opcode == OP_TEXT:
                    message = json.loads(payload)
                    self.messages.append(message)
                    if "price" in message:
                        self.arrivals.setdefault(message["price"], arrived)
                elif opcode == OP_PING:
                    self.transport.write(ws_encode_frame(payload, OP_PONG))
                elif opcode == OP_CLOSE:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self.transport.close()

    def connection_lost(self, exc) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost during the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(ws_encode_frame(struct.pack("!H", 1000), OP_CLOSE))
            self.transport.close()


async def open_client(port: int, path: str, cookie: str, *, timeout: float = 10.0) -> TickClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(TickClient, "127.0.0.1", port)
    client.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n")  # fmt: skip
    client.transport.write(request.encode())
    await asyncio.wait_for(client.opened, timeout)
    return client


async def open_clients(ports: list[int], count: int, path: str, cookie: str, *, batch: int = 50) -> list[TickClient]:
    """``count`` clients, client ``i`` on ``ports[i % len(ports)]``, ``batch`` handshakes at a time
    (a server answers a handshake within its 5 s limit only if they do not all arrive at once)."""
    clients: list[TickClient] = []
    for start in range(0, count, batch):
        size = min(batch, count - start)
        clients += await asyncio.gather(*(open_client(ports[(start + i) % len(ports)], path, cookie)
                                          for i in range(size)))  # fmt: skip
    return clients


# ---------------------------------------------------------------------------
# Publishing and timing
# ---------------------------------------------------------------------------
@dataclass
class FanOut:
    clients: int
    ticks: int
    latencies_ms: list[float] = field(default_factory=list)
    missing: int = 0  # (client, tick) pairs that never arrived
    slowest_ms: list[float] = field(default_factory=list)  # each tick's last delivery

    def figures(self) -> dict[str, float | int]:
        values = self.latencies_ms
        figures: dict[str, float | int] = {"clients": self.clients, "ticks": self.ticks, "deliveries": len(values),
                                           "missing": self.missing}  # fmt: skip
        if values:
            figures.update(p50_ms=percentile(values, 50), p99_ms=percentile(values, 99), max_ms=max(values),
                           slowest_per_tick_ms=[round(value, 1) for value in self.slowest_ms])
        return figures


def publish_price(symbol: str, price: int) -> None:
    """Publish one tick of ``symbol`` at ``price``, stamped with the time it is published."""
    from trading.realtime import Tick
    from trading.realtime.fanout import publish_tick

    publish_tick(Tick(symbol=symbol, price=Decimal(price), at=dt.datetime.now(SEOUL), volume=Decimal(1),
                      change=Decimal(100), change_rate=Decimal("0.14"), source="bench"))  # fmt: skip


async def fan_out(clients: list[TickClient], *, symbol: str = SYMBOL, ticks: int = 20, interval: float = 0.2,
                  timeout: float = 5.0, first_price: int = 70_000,
                  publish: Callable[[str, int], None] = publish_price) -> FanOut:
    """Publish ``ticks`` ticks ``interval`` seconds apart (each waits until every client has the
    previous one, or ``timeout``) and time every delivery."""
    loop = asyncio.get_running_loop()
    result = FanOut(clients=len(clients), ticks=ticks)
    for index in range(ticks):
        price = first_price + 100 * index
        key = str(price)
        sent = time.time()
        await loop.run_in_executor(None, publish, symbol, price)
        deadline = time.monotonic() + timeout
        waiting = list(clients)
        while waiting and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            for client in waiting:
                client.drain()
            waiting = [client for client in waiting if key not in client.arrivals]
        latencies = [(client.arrivals[key] - sent) * 1000 for client in clients if key in client.arrivals]
        result.missing += len(clients) - len(latencies)
        result.latencies_ms += latencies
        result.slowest_ms.append(max(latencies, default=float("nan")))
        await asyncio.sleep(interval)
    return result


# ---------------------------------------------------------------------------
# The stack: daphne processes, a user, a session
# ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        try:
            text = self.log.read_text(errors="replace")[-4000:]
        except OSError:
            text = "(no output)"
        return f"----- daphne :{self.port} (exit {self.process.poll()}) -----\n{text}"


def start_servers(count: int, env: dict[str, str], logs: Path, *, timeout: float = 60.0) -> list[Server]:
    """``count`` daphne processes (``config.asgi``), each on a port of its own; returns once every
    one answers /health. Raises RuntimeError (with their output) otherwise."""
    servers = []
    for _ in range(count):
        port = free_port()
        log = logs / f"daphne-{port}.log"
        with open(log, "wb") as handle:
            process = subprocess.Popen([PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
                                       cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)  # fmt: skip
        servers.append(Server(port, process, log))
    deadline = time.monotonic() + timeout
    try:
        for server in servers:
            while not _healthy(server.port):
                if server.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("a daphne process did not start\n" + "\n".join(s.output() for s in servers))
                time.sleep(0.2)
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_servers(servers: list[Server]) -> None:
    for server in servers:
        if server.process.poll() is None:
            server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def viewer_cookie(*, email: str = EMAIL, symbol: str = SYMBOL) -> str:
    """The Cookie header of a signed-in session of a (new) user, with ``symbol`` an instrument
    (Django set up, a database every server process reads)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    from marketdata.models import Instrument, Market

    Instrument.objects.get_or_create(code=symbol, defaults={"name": "삼성전자", "market": Market.KOSPI})
    user = get_user_model().objects.filter(email=email).first() or get_user_model().objects.create_user(
        email=email, password=None)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def group_members(redis_url: str, symbol: str = SYMBOL) -> int:
    """Sockets in the symbol's channel layer group (channels-redis keeps it as a sorted set)."""
    import redis

    from trading.realtime import price_group

    client = redis.Redis.from_url(redis_url)
    try:
        return client.zcard(f"asgi:group:{price_group(symbol)}")
    finally:
        client.close()


async def measure(ports: list[int], cookie: str, *, clients: int, ticks: int, interval: float,
                  symbol: str = SYMBOL) -> tuple[FanOut, list[TickClient]]:
    """Open the clients, let the servers settle, fan ticks out to them; the clients are returned open."""
    opened = await open_clients(ports, clients, f"/ws/realtime/{symbol}/", cookie)
    await asyncio.sleep(0.5)
    for client in opened:
        client.drain()
    refused = [client.close_code for client in opened if client.close_code is not None]
    if refused:
        raise RuntimeError(f"{len(refused)} sockets were closed by the server (codes {sorted(set(refused))})")
    return await fan_out(opened, symbol=symbol, ticks=ticks, interval=interval), opened


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
def _psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_URL}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                   check=True, capture_output=True, text=True, timeout=60)  # fmt: skip


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=2, help="daphne processes")
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between ticks")
    parser.add_argument("--database", default=PG_DB, help="PostgreSQL database, dropped and created")
    parser.add_argument("--redis-url", default=REDIS_URL, help="its db is flushed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "CELERY_BROKER_URL"}}
    env.update(DATABASE_URL=f"{PG_URL}/{args.database}", REDIS_URL=args.redis_url, DATA_DIR=str(workdir),
               DJANGO_SETTINGS_MODULE="config.settings", DEBUG="False", PYTHONUNBUFFERED="1")  # fmt: skip
    _psql(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
    _psql(f"CREATE DATABASE {args.database}")
    subprocess.run(["redis-cli", "-u", args.redis_url, "flushdb"], check=True, capture_output=True, timeout=30)
    print(f"migrating {args.database}…", file=sys.stderr)
    _run([PYTHON, "manage.py", "migrate", "--noinput"], env)
    os.environ.update(env)
    import django

    django.setup()
    cookie = viewer_cookie()
    servers = start_servers(args.servers, env, workdir)
    try:
        print(f"{args.clients} clients on {args.servers} daphne processes…", file=sys.stderr)
        result, clients = asyncio.run(_measure_and_count(servers, cookie, args))
    finally:
        stop_servers(servers)
        _psql(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
    figures = {**result.figures(), **clients}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _report(figures)
    return 0


async def _measure_and_count(servers: list[Server], cookie: str, args) -> tuple[FanOut, dict]:
    from asgiref.sync import sync_to_async

    from trading.realtime.interest import interest_symbols

    result, opened = await measure([s.port for s in servers], cookie, clients=args.clients, ticks=args.ticks,
                                   interval=args.interval)  # fmt: skip
    counts = {"servers": len(servers),
              "upstream_subscriptions": len(await sync_to_async(interest_symbols)()),
              "group_members": group_members(args.redis_url)}  # fmt: skip
    for client in opened:
        client.close()
    await asyncio.sleep(0.2)
    return result, counts


def _report(figures: dict) -> None:
    print(f"clients {figures['clients']} on {figures['servers']} daphne processes, {figures['ticks']} ticks")
    print(f"deliveries {figures['deliveries']}, missing {figures['missing']}")
    if "p99_ms" in figures:
        verdict = "meets" if figures["p99_ms"] < TARGET_P99_MS else "misses"
        print(f"tick -> client latency: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
              f"max {figures['max_ms']:.1f} ms ({verdict} the {TARGET_P99_MS:.0f} ms target)")
    print(f"upstream subscriptions {figures['upstream_subscriptions']} (interest_symbols), "
          f"group members {figures['group_members']}")


if __name__ == "__main__":
    raise SystemExit(main())
