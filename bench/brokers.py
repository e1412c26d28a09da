"""Benchmark of one broker app key shared by many processes: ``python -m bench.brokers [--seconds 60]``.

The fake KIS (``trading.fakes.kis``) runs in this process; clients run in subprocesses, each one
Django set up on an isolated data dir, as server and worker processes are: embedded mode (SQLite,
the database token cache and ``DatabaseBudget``), and Redis too with ``--redis URL`` (default: the
``REDIS_URL`` environment variable).

(a) requests per second one app key sustains at the real account's 18/s from 4 processes (2 clients
    each) over ``--seconds``, with the refusals the broker sent (target >= 17/s, 0 refusals);
(b) token issuances per app key over a trading-clock day with restarts: the clock (``CLOCK_FILE``)
    moves an hour at a time through 25 hours and 2 new processes start each hour (target: 1 per
    token life, i.e. 1 in the 23 h 50 min before KIS's 24-hour token is renewed, 2 in 25 hours);
(c) the balance of an account with 100 positions (paged: 50 a page real, 20 mock) end to end, cold
    (the token issued first) and warm (target real < 1 s; mock bounded by its 1/s pace).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATE = 17.0
TARGET_BALANCE_SECONDS = 1.0
SYMBOL = "005930"
POSITIONS = 100


# -- the client processes -------------------------------------------------------------------------
def _client(config: dict[str, Any]) -> Any:
    from trading.fakes.load import kis_client

    return kis_client(config)


def _hammer(config: dict[str, Any]) -> dict[str, Any]:
    from trading.fakes.load import hammer

    return hammer(config)


def _token(config: dict[str, Any]) -> dict[str, Any]:
    """A restarted process: its first call needs the token."""
    client = _client(config)
    client.quote(SYMBOL)
    client.close()
    return {"ok": True}


def _balance(config: dict[str, Any]) -> dict[str, Any]:
    client = _client(config)
    timings = []
    for _ in range(2):  # cold (issues the token), warm
        started = time.perf_counter()
        balance = client.balance()
        timings.append(time.perf_counter() - started)
    client.close()
    return {"cold": timings[0], "warm": timings[1], "positions": len(balance.positions)}


WORKERS = {"hammer": _hammer, "token": _token, "balance": _balance}


def _worker(config: dict[str, Any]) -> None:
    import django

    django.setup()
    print(json.dumps(WORKERS[config["task"]](config)), flush=True)


# -- the bench process ----------------------------------------------------------------------------
class Stack:
    """Where the client processes run: a data dir (SQLite), the mode's REDIS_URL, the clock file."""

    def __init__(self, root: Path, redis_url: str) -> None:
        self.root, self.redis_url = root, redis_url
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CLOCK_FILE")}
        self.env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONPATH=str(ROOT), DATA_DIR=str(root),
                        REDIS_URL=redis_url, CLOCK_FILE=str(root / "clock.json"), LOG_LEVEL="WARNING")  # fmt: skip

    @property
    def name(self) -> str:
        return "redis" if self.redis_url else "embedded"

    def migrate(self) -> None:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=self.env, check=True)

    def start(self, config: dict[str, Any]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "bench.brokers", "--worker", json.dumps(config)], cwd=ROOT,
                                env=self.env, stdout=subprocess.PIPE, text=True)  # fmt: skip

    @staticmethod
    def result(process: subprocess.Popen, timeout: float) -> dict[str, Any]:
        out, _ = process.communicate(timeout=timeout)
        if process.returncode != 0:
            raise RuntimeError(f"a client process failed (exit {process.returncode})")
        return json.loads(out.strip().splitlines()[-1])


def _account(fake: Any, *, environment: str = "real", positions: int = 0) -> dict[str, Any]:
    app_key, secret = "PS" + uuid.uuid4().hex + "00", "secret-" + uuid.uuid4().hex * 5
    fake.set_price(SYMBOL, 70_100, name="삼성전자")
    held = {f"{100000 + 10 * i:06d}": (10 + i, 10_000 + 100 * i) for i in range(positions)}
    for i, symbol in enumerate(held):
        fake.set_price(symbol, 10_500 + 100 * i, name=f"종목{i}")
    fake.add_account(app_key, secret, "50001234-01", environment=environment, cash=10_000_000, positions=held)
    return {"app_key": app_key, "app_secret": secret, "account_no": "5000123401", "base_url": fake.url,
            "environment": environment, "per_second": fake.rate_limits[environment]}


def _tightest(times: list[float], limit: int) -> float:
    """The shortest span (s) holding limit + 1 arrivals: at least 1.0 means no second held more."""
    times = sorted(times)
    return min((times[i + limit] - times[i] for i in range(len(times) - limit)), default=float("inf"))


def throughput(stack: Stack, fake: Any, *, seconds: float, processes: int = 4, threads: int = 2) -> dict[str, Any]:
    account = _account(fake)
    refused = [0]
    within_rate = fake._within_rate

    def counted(holder: Any) -> bool:
        allowed = within_rate(holder)
        refused[0] += not allowed
        return allowed

    fake._within_rate = counted
    go = stack.root / f"go-{account['app_key']}"
    started = [stack.start({**account, "task": "hammer", "seconds": seconds, "threads": threads,
                            "ready": str(stack.root / f"ready-{i}-{account['app_key']}"), "go": str(go)})
               for i in range(processes)]  # fmt: skip
    while not all((stack.root / f"ready-{i}-{account['app_key']}").exists() for i in range(processes)):
        if any(p.poll() is not None for p in started):
            raise RuntimeError("a client process died while starting")
        time.sleep(0.02)
    begin = time.time()
    go.touch()
    results = [stack.result(p, seconds + 120) for p in started]
    fake._within_rate = within_rate
    with fake.lock:
        arrivals = [r.at for r in fake.requests
                    if r.path.startswith("/uapi") and r.header("appkey") == account["app_key"]]
    measured = [at for at in arrivals if begin <= at < begin + seconds]
    return {"rate": len(measured) / seconds, "requests": len(arrivals), "refused": refused[0],
            "client_rate_limited": sum(r["rate_limited"] for r in results),
            "errors": [e for r in results for e in r["errors"]],
            "max_per_second": fake.max_per_window(path_prefix="/uapi", app_key=account["app_key"]),
            "tightest": _tightest(arrivals, account["per_second"]),
            "issuances": fake.token_issuances(account["app_key"])}


def token_day(stack: Stack, fake: Any, *, hours: int = 25, per_restart: int = 2) -> dict[str, Any]:
    from core import clock

    os.environ["CLOCK_FILE"] = stack.env["CLOCK_FILE"]
    account = _account(fake)
    issued_at_hours = []
    try:
        for hour in range(hours + 1):
            offset = hour * 3600.0
            clock.set_to(datetime.fromtimestamp(time.time() + offset, UTC))
            fake.advance(offset - (fake.now() - time.time()))
            before = fake.token_issuances(account["app_key"])
            restarted = [stack.start({**account, "task": "token"}) for _ in range(per_restart)]
            for process in restarted:
                stack.result(process, 120)
            issued_at_hours += [hour] * (fake.token_issuances(account["app_key"]) - before)
    finally:
        clock.reset()
        fake.advance(-(fake.now() - time.time()))
    return {"issued_at_hours": issued_at_hours, "processes": (hours + 1) * per_restart,
            "token_requests": sum(1 for r in fake.requests if r.path == "/oauth2/tokenP"
                                  and r.body.get("appkey") == account["app_key"])}


def balance(stack: Stack, fake: Any, environment: str) -> dict[str, Any]:
    account = _account(fake, environment=environment, positions=POSITIONS)
    before = len(fake.requests)
    result = stack.result(stack.start({**account, "task": "balance"}), 180)
    with fake.lock:
        paths = [r.path for r in fake.requests[before:] if r.header("appkey") == account["app_key"]]
    return {**result, "pages_per_read": len(paths) // 2, "per_second": account["per_second"]}


def report(stack: Stack, fake: Any, seconds: float) -> None:
    from trading.sharing import WINDOW_SECONDS

    print(f"== {stack.name} mode ({'Redis ' + stack.redis_url if stack.redis_url else 'SQLite, database cache'})")
    a = throughput(stack, fake, seconds=seconds)
    verdict = "ok" if a["rate"] >= TARGET_RATE and a["refused"] == 0 and not a["errors"] else "MISSED"
    print(f"(a) one app key, 4 processes x 2 clients, {seconds:.0f} s at 18/s: {a['rate']:.2f} requests/s, "
          f"{a['refused']} refused by the broker, {a['client_rate_limited']} seen by clients, "
          f"errors {a['errors'] or 'none'}  [{verdict}: target >= {TARGET_RATE:.0f}/s, 0 refusals]")
    print(f"    most in any 1 s at the broker: {a['max_per_second']} (limit 18); tightest 19 arrivals span "
          f"{a['tightest']:.3f} s; token issuances: {a['issuances']}; steady ceiling 18 per "
          f"{WINDOW_SECONDS} s = {18 / WINDOW_SECONDS:.2f}/s")
    b = token_day(stack, fake)
    in_life = sum(1 for hour in b["issued_at_hours"] if hour * 3600 < 86400 - 600)
    print(f"(b) 25 h of trading clock, 2 new processes every hour ({b['processes']} processes): "
          f"{len(b['issued_at_hours'])} issuances at hours {b['issued_at_hours']}, {b['token_requests']} token "
          f"requests; {in_life} within the token's first 23 h 50 min  [{'ok' if in_life == 1 else 'MISSED'}: target 1]")
    for environment in ("real", "mock"):
        c = balance(stack, fake, environment)
        bound = "target < 1 s" if environment == "real" else f"bound by {c['per_second']}/s"
        print(f"(c) balance of {c['positions']} positions, {environment}: cold {c['cold']:.3f} s (token + "
              f"{c['pages_per_read']} pages), warm {c['warm']:.3f} s  [{bound}]")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.brokers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the throughput run (a)")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""), help="also run on this Redis")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(json.loads(args.worker))
        return
    from trading.fakes.kis import FakeKis

    with tempfile.TemporaryDirectory(prefix="bench-brokers-") as tmp, FakeKis() as fake:
        embedded = Stack(Path(tmp), "")
        embedded.migrate()
        for stack in (embedded, Stack(Path(tmp), args.redis)) if args.redis else (embedded,):
            report(stack, fake, args.seconds)


if __name__ == "__main__":
    main()
