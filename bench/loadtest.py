"""Load test: hundreds of signed-in investors against the full stack, with locust.

    python -m bench.loadtest [--users 500] [--spawn-rate 25] [--duration 180] [--serve-processes 2]
                             [--worker-concurrency 1] [--step 100 [--step-duration 60]] [--keep]

The stack is ``bench.stack.Stack`` in full mode: PostgreSQL database ``platform_bench``, Redis db 9,
synthetic bars (100 symbols x 10 years), ``manage.py serve --workers N`` (daphne processes on one
port) and a prefork Celery worker. ``--users`` accounts are seeded first (``seed_accounts``): each
with a verified address, a strategy, two finished backtests (run by the engine, with their result
files), a paper account with six orders and three positions. Then locust (``.venv-load``, see
requirements-load.txt) runs ``bench/locustfile.py`` headless: every user signs in on the allauth
login page, then loops with 1-5 s of think time over the dashboard, the new-backtest form and a
submission of a 1-symbol x 1-year backtest (run by the worker), its results (a finished page is
looked at twice: the repeat is the edge cache's, ``results (kept)``), the orders page, the positions
page and the live channel ``/ws/user/`` (opened, a moment's wait for a message, closed).

Figures are computed here from every request locust made (``LOAD_RECORDS``), in two phases: the
ramp (spawning and signing in; sign-in is ~350 ms of PBKDF2 per user, the ramp's real cost) and the
steady phase, which starts once every user has signed in and lasts ``--duration`` seconds. Targets
of the steady phase: no errors; p95 < 500 ms for pages that change; p95 < 100 ms for kept results.
A submission refused by a plan limit (runs at once) is the product's answer, not an error: counted
apart. ``--step N`` is the breaking-point mode: 100, 200, ... users (a fresh locust run each, on
the same stack) until the steady phase's error rate exceeds 1 % or the dashboard's p95 exceeds 2 s.

The stack runs with ``TRUSTED_PROXIES=127.0.0.1`` and each user sends its own ``X-Forwarded-For``
(see the locustfile): allauth's sign-in limit per address stays as it is. Everything, the load
generator included, runs on this machine. Nothing here is imported by the product; the pure parts
(phases, figures, verdicts, the table, the steps) are tested in ``bench/tests/test_loadtest.py``.

Last measured 2026-12-05, 2 cores, serve --workers 2, Celery --concurrency 1, locust on the same machine.
Idle machine, ``--step 100`` (60 s steady phases): 100 users: 31.6 req/s, 0 errors, p95 dashboard 426 ms,
orders 110, positions 102, results 118, submit 172, new-backtest form 1,838 (p50 46), kept results 8 ms,
live channel open 25 ms; 200 users: 57.4 req/s, 0 errors, p95 0.9-4.0 s (dashboard 1,265 ms), kept
results 137 ms; the ramp's sign-ins got 82 503s (8 %); 300 users: the breaking point, 64.2 req/s, 3.2 %
errors (128 live-channel handshakes reset: daphne's 5 s handshake timeout), dashboard p95 3.4 s.
On the same machine shared with browser tests (load average 13-22), 500 users: signing everyone in took
279 s (1,463 of 1,963 sign-ins answered 503: the database pool's 10 s timeout while PBKDF2, ~350 ms a
sign-in, and queued requests held its 20 connections per process); steady phase 49.8 req/s, p95 ~11 s
on every Django page, kept results p95 1.8 s, 11.8 % errors (1,025 live-channel handshakes dropped, 77
HTTP 503s). The server is CPU-bound well before 500 users on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stack import PG_DB, PG_URL, PYTHON, REPO_ROOT, SYMBOLS, Stack, generate_bars, run
from bench.stats import percentile

LOCUST = REPO_ROOT / ".venv-load" / "bin" / "locust"
LOCUSTFILE = REPO_ROOT / "bench" / "locustfile.py"
PASSWORD = "load-test-Secret-0123"
EMAIL = "investor{:04d}@load.example"
RUN_START, RUN_END = "2023-01-02", "2023-12-29"  # the submitted backtest: 1 symbol x 1 year of the synthetic bars
# its capital: some synthetic symbols trade at ~30 million KRW a share, over the form's default 10 million
# (a run that cannot buy one share is refused with a field error, which the locustfile counts as an error)
RUN_CASH = 1_000_000_000

CHANGING_P95_MS = 500.0
KEPT_P95_MS = 100.0
BREAK_ERROR_RATE = 0.01
BREAK_DASHBOARD_P95_MS = 2000.0
REFUSED = "(refused"  # names of requests the product refused on purpose
KEPT = "(kept)"
NO_TARGET = ("live channel",)  # a websocket handshake, not a page: reported, not judged


# ---------------------------------------------------------------------------
# Figures (pure)
# ---------------------------------------------------------------------------
def split_phases(records: list[list], steady_since: float | None) -> dict[str, list[list]]:
    """``records`` ([time, kind, name, ms, error]) before and from ``steady_since`` (all ramp when None)."""
    if steady_since is None:
        return {"ramp": list(records), "steady": []}
    return {"ramp": [r for r in records if r[0] < steady_since], "steady": [r for r in records if r[0] >= steady_since]}


def page_rows(records: list[list], seconds: float) -> list[dict[str, Any]]:
    """Per (kind, name): requests, errors, p50/p95/p99 ms, requests/s over ``seconds``; by name."""
    by_name: dict[tuple[str, str], list[list]] = {}
    for record in records:
        by_name.setdefault((record[1], record[2]), []).append(record)
    rows = []
    for (kind, name), items in sorted(by_name.items(), key=lambda item: item[0][1]):
        times = [float(r[3]) for r in items]
        rows.append({"kind": kind, "name": name, "requests": len(items), "errors": sum(1 for r in items if r[4]),
                     "p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95),
                     "p99_ms": percentile(times, 99), "rps": len(items) / seconds if seconds > 0 else 0.0,
                     "error_kinds": sorted({r[4] for r in items if r[4]})[:5]})  # fmt: skip
    return rows


def target_for(name: str) -> float | None:
    if REFUSED in name or any(name.startswith(prefix) for prefix in NO_TARGET):
        return None
    return KEPT_P95_MS if KEPT in name else CHANGING_P95_MS


def verdict(row: dict[str, Any]) -> str:
    target = target_for(row["name"])
    if target is None:
        return "-"
    return "PASS" if row["errors"] == 0 and row["p95_ms"] < target else "FAIL"


def totals(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    requests = sum(row["requests"] for row in rows)
    errors = sum(row["errors"] for row in rows)
    refused = sum(row["requests"] for row in rows if REFUSED in row["name"])
    return {"requests": requests, "errors": errors, "refused": refused,
            "error_rate": errors / requests if requests else 0.0,
            "rps": requests / seconds if seconds > 0 else 0.0, "seconds": seconds}  # fmt: skip


def phase_seconds(records: list[list]) -> float:
    return max(r[0] for r in records) - min(r[0] for r in records) if records else 0.0


def figures(payload: dict[str, Any]) -> dict[str, Any]:
    """Rows and totals of both phases from the locustfile's ``LOAD_RECORDS`` payload."""
    out: dict[str, Any] = {"steady_since": payload.get("steady_since")}
    for phase, records in split_phases(payload["records"], payload.get("steady_since")).items():
        seconds = phase_seconds(records)
        rows = page_rows(records, seconds)
        out[phase] = {"rows": rows, "totals": totals(rows, seconds)}
    return out


def broke(step: dict[str, Any]) -> str | None:
    """Why a step's steady phase is past the breaking point, or None."""
    steady = step["steady"]
    if not steady["rows"]:
        return "no steady phase (not every user signed in)"
    if steady["totals"]["error_rate"] > BREAK_ERROR_RATE:
        return f"error rate {steady['totals']['error_rate']:.1%} > {BREAK_ERROR_RATE:.0%}"
    dashboard = next((row for row in steady["rows"] if row["name"] == "dashboard"), None)
    if dashboard and dashboard["p95_ms"] > BREAK_DASHBOARD_P95_MS:
        return f"dashboard p95 {dashboard['p95_ms']:,.0f} ms > {BREAK_DASHBOARD_P95_MS:,.0f} ms"
    return None


def step_sizes(users: int, step: int) -> list[int]:
    """100, 200, ... up to ``users`` (which is always the last)."""
    if step < 1 or users < 1:
        raise ValueError("users and step must be at least 1")
    sizes = list(range(step, users, step))
    return [*sizes, users]


def table(rows: list[dict[str, Any]], total: dict[str, Any], *, judged: bool = True) -> str:
    head = f"{'page':<38}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}  target"
    lines = [head, "-" * len(head)]
    for row in rows:
        target = target_for(row["name"])
        goal = "-" if target is None or not judged else f"p95<{target:.0f} {verdict(row)}"
        lines.append(f"{row['kind'] + ' ' + row['name']:<38}{row['requests']:>9,}{row['errors']:>8,}"
                     f"{row['p50_ms']:>9,.0f}{row['p95_ms']:>9,.0f}{row['p99_ms']:>9,.0f}"
                     f"{row['rps']:>8.1f}  {goal}")  # fmt: skip
        for kind in row["error_kinds"]:
            lines.append(f"{'':<6}error: {kind}")
    lines.append("-" * len(head))
    lines.append(f"{'all':<38}{total['requests']:>9,}{total['errors']:>8,}{'':>27}{total['rps']:>8.1f}  "
                 f"errors {total['error_rate']:.2%} (target 0)" + (" PASS" if judged and not total["errors"] else
                                                                   " FAIL" if judged else ""))  # fmt: skip
    if total["refused"]:
        lines.append(f"{'':<6}{total['refused']:,} submissions refused by a plan limit (not errors)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Seeding (runs inside ``manage.py shell`` in the stack's environment)
# ---------------------------------------------------------------------------
def seed_accounts() -> None:
    """``LOAD_SEED_USERS`` investors, each with a strategy, two finished backtests, a paper account with
    orders and positions; writes their logins, addresses and run ids to ``LOAD_ACCOUNTS``."""
    import datetime as dt
    from decimal import Decimal

    from allauth.account.models import EmailAddress
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User
    from backtests import services as backtest_services, validation
    from core.audit import Actor
    from marketdata.models import Instrument
    from marketdata.synthetic import synthetic_code
    from strategies.models import Strategy
    from trading import services as trading_services
    from trading.orders.models import Order, Position

    count = int(os.environ["LOAD_SEED_USERS"])
    codes = [synthetic_code(i) for i in range(SYMBOLS)]
    instruments = list(Instrument.objects.filter(code__in=codes[:3]))
    hashed = make_password(PASSWORD)  # one PBKDF2 for all: each sign-in still checks it in full
    enqueue, backtest_services._enqueue = backtest_services._enqueue, lambda run_id: None  # run here, not queued
    accounts, now = [], timezone.now()
    try:
        for i in range(count):
            user = User(email=EMAIL.format(i), password=hashed)
            user.save()
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
            strategy = Strategy.objects.create(owner=user, name="이동평균 교차", strategy_type="sma_cross",
                                               params={"fast": 10, "slow": 30})
            strategy.instruments.set(instruments)
            runs = []
            for year in (2021, 2022):
                fields = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30},
                          "codes": codes[(i + year) % SYMBOLS], "start": dt.date(year, 1, 4),
                          "end": dt.date(year, 12, 28), "cash": RUN_CASH}  # fmt: skip
                checked = validation.backtest_request_check(user=user, fields=fields)
                run = backtest_services.backtest_start(user=user, spec=checked.spec, title=f"{year}년",
                                                       strategy=strategy)
                backtest_services.backtest_execute(run_id=run.pk)
                runs.append(run.pk)
            paper = trading_services.broker_account_open_paper(actor=Actor.of_user(user), owner=user, nickname="모의투자")
            orders = []
            for n in range(6):
                state = ("filled", "cancelled", "accepted")[n % 3]
                quantity, price = Decimal(10 + n), Decimal(50_000 + 100 * n)
                filled = quantity if state == "filled" else Decimal(0)
                orders.append(Order(owner=user, account=paper, symbol=codes[n], side="buy" if n % 2 else "sell",
                                    quantity=quantity, order_type="limit", price=price, state=state,
                                    filled_quantity=filled, filled_amount=filled * price,
                                    average_fill_price=price if filled else None, order_day=now.date(),
                                    submitted_at=now - dt.timedelta(hours=n),
                                    closed_at=None if state == "accepted" else now - dt.timedelta(minutes=30 * n)))
            Order.objects.bulk_create(orders)
            Position.objects.bulk_create([Position(account=paper, symbol=codes[n], quantity=Decimal(10 + n),
                                                   cost=Decimal(500_000 + 1000 * n), opening_quantity=Decimal(10 + n))
                                          for n in range(3)])  # fmt: skip
            address = f"10.{(i + 1) >> 16 & 255}.{(i + 1) >> 8 & 255}.{(i + 1) & 255}"  # one of their own each
            accounts.append({"email": user.email, "address": address, "runs": runs})
    finally:
        backtest_services._enqueue = enqueue
    payload = {"password": PASSWORD, "accounts": accounts, "codes": codes, "start": RUN_START, "end": RUN_END,
               "cash": RUN_CASH}
    Path(os.environ["LOAD_ACCOUNTS"]).write_text(json.dumps(payload))


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[loadtest {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def backlog() -> int | None:
    """Backtests still queued or running (the worker's backlog), or None when it cannot be read."""
    done = subprocess.run(["psql", f"{PG_URL}/{PG_DB}", "-Atc",
                           "SELECT count(*) FROM backtests_backtestrun WHERE status IN ('queued', 'running')"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip().isdigit() else None


def run_locust(stack: Stack, *, users: int, spawn_rate: float, steady: float, accounts: Path, out: Path,
               ws_wait: float) -> dict[str, Any]:
    """One headless locust run of ``users``; the figures of its records."""
    records = out.with_suffix(".records.json")
    cap = users / spawn_rate + steady + 600  # a stuck ramp still ends
    env = {**os.environ, "LOAD_ACCOUNTS": str(accounts), "LOAD_RECORDS": str(records), "LOAD_USERS": str(users),
           "LOAD_STEADY_SECONDS": str(steady), "LOAD_WS_WAIT": str(ws_wait)}  # fmt: skip
    command = [str(LOCUST), "-f", str(LOCUSTFILE), "--headless", "-u", str(users), "-r", str(spawn_rate),
               "-t", f"{int(cap)}s", "--host", stack.url, "--csv", str(out), "--only-summary",
               "--loglevel", "WARNING", "--stop-timeout", "10"]  # fmt: skip
    log(f"locust: {users} users at {spawn_rate:g}/s, {steady:g} s once all have signed in")
    with open(out.with_suffix(".log"), "wb") as handle:
        proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        try:
            proc.wait()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    if not records.exists():
        output = out.with_suffix(".log").read_text()[-3000:]
        raise RuntimeError(f"locust wrote no records (exit {proc.returncode}):\n{output}")
    return figures(json.loads(records.read_text()))


def report(users: int, result: dict[str, Any], queued: int | None) -> str:
    ramp, steady = result["ramp"], result["steady"]
    parts = [f"== {users} users: ramp-up (spawning and signing in, {ramp['totals']['seconds']:.0f} s) ==",
             table(ramp["rows"], ramp["totals"], judged=False),
             f"\n== {users} users: steady phase ({steady['totals']['seconds']:.0f} s, every user signed in) ==",
             table(steady["rows"], steady["totals"]) if steady["rows"] else "(none: not every user signed in)"]
    if queued is not None:
        parts.append(f"backtests still queued or running at the end: {queued:,}")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m bench.loadtest")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--spawn-rate", type=float, default=25.0, help="users started per second (default 25)")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of steady phase (default 180)")
    parser.add_argument("--serve-processes", type=int, default=2, help="daphne processes of serve (default 2)")
    parser.add_argument("--worker-concurrency", type=int, default=1, help="prefork children of the worker (default 1)")
    parser.add_argument("--step", type=int, default=0, help="breaking-point mode: add this many users per run")
    parser.add_argument("--step-duration", type=float, default=60.0, help="steady seconds of each step (default 60)")
    parser.add_argument("--ws-wait", type=float, default=1.0, help="seconds the live channel waits for a message")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, locust CSV) after the run")
    args = parser.parse_args(argv)
    if not LOCUST.exists():
        parser.error(f"{LOCUST} is missing: python3.11 -m venv .venv-load && "
                     ".venv-load/bin/pip install -r requirements-load.txt")
    sizes = step_sizes(args.users, args.step) if args.step else [args.users]

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    stack = Stack(mode="full", workdir=workdir, market_root=workdir / "marketdata",
                  serve_workers=args.serve_processes, worker_concurrency=args.worker_concurrency,
                  extra_env={"TRUSTED_PROXIES": "127.0.0.1/32"})  # the users' X-Forwarded-For: see the locustfile
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))  # run the finally below on kill
    results: list[dict[str, Any]] = []
    try:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
        env["DATA_DIR"] = str(workdir / "gen")
        log(f"generating {SYMBOLS} symbols of synthetic bars")
        generate_bars(stack.market_root, env)
        log(f"starting the stack: serve --workers {args.serve_processes}, "
            f"worker --concurrency {args.worker_concurrency}")
        stack.start()
        accounts = workdir / "accounts.json"
        log(f"seeding {max(sizes)} investors (strategy, 2 finished backtests, paper orders and positions)")
        started = time.monotonic()
        run([PYTHON, "manage.py", "shell", "-c", "from bench.loadtest import seed_accounts; seed_accounts()"],
            {**stack.env, "LOAD_SEED_USERS": str(max(sizes)), "LOAD_ACCOUNTS": str(accounts)}, timeout=3600)
        log(f"seeded in {time.monotonic() - started:.0f} s")
        for users in sizes:
            steady = args.step_duration if args.step else args.duration
            result = run_locust(stack, users=users, spawn_rate=args.spawn_rate, steady=steady, accounts=accounts,
                                out=workdir / f"locust-{users}", ws_wait=args.ws_wait)
            result.update(users=users, backlog=backlog(), broke=broke(result))
            results.append(result)
            if not args.json:
                print(report(users, result, result["backlog"]), flush=True)
            if args.step and result["broke"]:
                break
    finally:
        log("stopping the stack")
        stack.stop()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    machine = {"cpus": os.cpu_count(), "loadavg_after": os.getloadavg()}
    if args.json:
        print(json.dumps({"machine": machine, "settings": vars(args), "results": results}, indent=2, default=str))
        return 0
    if args.step:
        passing = [r["users"] for r in results if not r["broke"]]
        failing = next((r for r in results if r["broke"]), None)
        print(f"\nbreaking point: {failing['users']} users ({failing['broke']}); last good step "
              f"{passing[-1] if passing else 'none'}" if failing else f"\nno breaking point up to {sizes[-1]} users")
    print(f"\n{machine['cpus']} CPUs; load average after: {' '.join(f'{v:.2f}' for v in machine['loadavg_after'])}. "
          f"serve --workers {args.serve_processes}, Celery --concurrency {args.worker_concurrency}; "
          "locust runs on the same machine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
