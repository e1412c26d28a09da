"""Service benchmark: backtests through the whole platform, not just the engine.

    python -m bench.service [--mode embedded|full|both] [--json]
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
The pure helpers (``bench.stats``, the frame codec of ``bench.websocket``, wrk's output in
``bench.load``) are unit-tested; nothing here is imported by the product.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import browser_headers, first_answer_ms, hammer, hammer_wrk
from bench.stack import START, SYMBOLS, YEARS, Stack, generate_bars, proc_status_kb, process_tree
from bench.stats import summarize
from bench.websocket import WebSocket

END_1Y = dt.date(2015, 12, 31)
END_10Y = dt.date(2024, 12, 31)
PARAMS = {"fast": 10, "slow": 30}
CASH = 10_000_000_000

TARGETS = {  # figure -> (limit, unit, what is compared)
    "submit_1x1y_ms": (300.0, "ms", "median"),
    "submit_10x1y_ms": (1000.0, "ms", "median"),
    "page_p95_ms": (100.0, "ms", "p95"),
    "api_p95_ms": (100.0, "ms", "p95"),
    "peak_memory_mb": (2048.0, "MB", "peak"),
}


def verdict(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    limit = TARGETS[name][0]
    return "PASS" if value < limit else "FAIL"


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="python -m bench.service")
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
