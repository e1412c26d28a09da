"""The platform as the service benchmark runs it: an isolated data dir, migrations, a bootstrapped user
(session and API token), ``manage.py serve`` and, in full mode, a prefork Celery worker, as subprocesses;
and /proc readings of their memory."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

SYMBOLS = 100
YEARS = 10
SEED = 42
START = dt.date(2015, 1, 1)  # marketdata.synthetic.DEFAULT_START

PG_URL = "postgres://postgres@127.0.0.1:5432"
PG_DB = "platform_bench"
REDIS_URL = "redis://127.0.0.1:6379/9"
EMAIL = "bench@example.com"
PASSWORD = "bench-password-0123456789"


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

from coupons.models import Plan
# the benchmark measures the platform, not a plan's limits (API rate, symbols, runs a day)
Plan.objects.update(api_requests_per_minute=100_000_000, max_backtests_per_day=1_000_000, max_strategies=1_000_000,
                    max_symbols_per_backtest=max(int(os.environ["BENCH_SYMBOLS"]), 200))
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
    serve_workers: int | None = None  # daphne processes of ``serve --workers`` (None: its own default)
    worker_concurrency: int = 1  # prefork children of the Celery worker (full mode)
    extra_env: dict[str, str] = field(default_factory=dict)  # on top of the benchmark's own settings

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
        env.update(self.extra_env)
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
        if self.serve_workers is not None:
            commands["server"] += ["--workers", str(self.serve_workers)]
        if self.mode == "full":
            commands["worker"] = [PYTHON, "-m", "celery", "-A", "config", "worker", "-l", "WARNING",
                                  "--pool", "prefork", "--concurrency", str(self.worker_concurrency),
                                  "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
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
