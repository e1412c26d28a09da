"""Benchmark of the bar store on a synthetic universe: ``python -m bench.store [--symbols 2900 --years 10]``.

Pure: no Django. Generates the universe into a temp dir (the generator of ``generate_sample_data``),
then measures in fresh subprocesses, so that generation does not inflate the peak RSS:

* cold universe read (builds the snapshot) and its peak RSS;
* warm universe read, median of 5, and its peak RSS;
* one-symbol reads (``read_one``) of 200 random codes, median and p95.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_UNIVERSE_SECONDS = 0.5
TARGET_RSS_MB = 1024
TARGET_ONE_MS = 10.0
MARKET = "KOSPI"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _worker(mode: str, root: str) -> dict:
    from marketdata.store import BarStore

    store = BarStore(root)
    if mode == "cold":
        started = time.perf_counter()
        bars = store.read()
        return {"seconds": time.perf_counter() - started, "rows": len(bars), "rss_mb": _peak_rss_mb()}
    if mode == "warm":
        baseline = _peak_rss_mb()
        started = time.perf_counter()
        store.read()  # warm-up: the first read of a process maps the file and imports lazily
        warmup = time.perf_counter() - started
        timings, touched = [], []
        for _ in range(5):
            started = time.perf_counter()
            bars = store.read()
            timings.append(time.perf_counter() - started)
            # Mapped pages load on first touch: sum every column so the figure includes reading it all.
            checksum = sum(float(np.nansum(column.view(np.int64) if column.dtype.kind == "M" else column))
                           for column in bars.columns().values())
            touched.append(time.perf_counter() - started)
            rows = len(bars)
            del bars  # free before the next read, or the peak would hold two universes
        return {
            "warmup": warmup, "timings": timings, "touched": touched, "rows": rows, "checksum": checksum,
            "rss_mb": _peak_rss_mb(), "baseline_mb": baseline,
        }
    if mode == "one":
        codes = store.codes(MARKET)
        sample = random.Random(7).choices(codes, k=200)
        timings = []
        for code in sample:
            started = time.perf_counter()
            store.read_one(code)
            timings.append(time.perf_counter() - started)
        return {"timings": timings}
    raise ValueError(mode)


def _run_worker(mode: str, root: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    output = subprocess.run(
        [sys.executable, "-m", "bench.store", "--worker", mode, "--root", root],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


TARGET_SEARCH_MS = 30.0
SEARCH_QUERIES = ["삼성", "전자", "현대", "005930", "0059", "카카오", "naver", "Samsung", "SK", "하이닉스",
                  "바이오", "LG", "제약", "에너지", "금융", "000660", "35420", "셀트리온", "화학", "반도체"]


def _search_worker() -> dict:
    """In a fresh process and database: load the full KRX master, then time the search API."""
    import django

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="bench-search-")
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from marketdata import services
    from marketdata.models import Instrument

    call_command("migrate", verbosity=0)
    from coupons.models import Plan

    Plan.objects.update(api_requests_per_minute=100_000)  # the search is measured, not the plan's rate
    services.instruments_import_csv(path=services.SAMPLE_DATA_DIR / "instruments_krx.csv")
    client = Client()
    client.force_login(User.objects.create_user("bench@example.com", "bench-password-1"))
    for query in SEARCH_QUERIES:  # warm-up
        client.get("/api/v1/instruments/", {"q": query})
    timings = []
    for round_ in range(15):
        for query in SEARCH_QUERIES:
            started = time.perf_counter()
            response = client.get("/api/v1/instruments/", {"q": query})
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
    figures = {
        "p50_ms": statistics.median(timings),
        "p95_ms": _p95(timings),
        "requests": len(timings),
        "instruments": Instrument.objects.count(),
    }
    shutil.rmtree(os.environ["DATA_DIR"], ignore_errors=True)
    return figures


def _run_search_worker() -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "bench.store", "--worker", "search"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__)
    parser.add_argument("--symbols", type=int, default=2900)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--root", help="use (and keep) this directory instead of a temp dir")
    parser.add_argument("--worker", choices=["cold", "warm", "one", "search"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "search":
        print(json.dumps(_search_worker()))
        return
    if args.worker:
        print(json.dumps(_worker(args.worker, args.root)))
        return

    from marketdata.store import BarStore
    from marketdata.synthetic import write_universe

    root = args.root or tempfile.mkdtemp(prefix="bench-bars-")
    try:
        started = time.perf_counter()
        store = BarStore(root, fsync=False)
        summary = write_universe(store, market=MARKET, symbols=args.symbols, years=args.years, seed=args.seed)
        os.sync()
        generation = time.perf_counter() - started
        print(f"generated {summary.symbols:,} symbols, {summary.rows:,} rows, {summary.first}..{summary.last}")
        print(f"generation + write:       {generation:8.2f} s   (target: well under 60 s)")
        cold = _run_worker("cold", root)
        print(f"cold universe read:       {cold['seconds']:8.3f} s   (builds the snapshot; peak RSS {cold['rss_mb']:.0f} MB)")
        warm = _run_worker("warm", root)
        median = statistics.median(warm["timings"])
        print(
            f"universe read (median/5): {median:8.4f} s   (target < {TARGET_UNIVERSE_SECONDS} s); "
            f"runs: {', '.join(f'{t:.4f}' for t in warm['timings'])}; warm-up {warm['warmup']:.3f} s; "
            f"rows {warm['rows']:,}"
        )
        print(
            f"  + touch every value:    {statistics.median(warm['touched']):8.3f} s   (median/5, read + np.nansum of "
            f"all 7 columns; target < {TARGET_UNIVERSE_SECONDS} s)"
        )
        print(
            f"peak RSS, warm + touched: {warm['rss_mb']:8.0f} MB  (target < {TARGET_RSS_MB} MB; "
            f"{warm['baseline_mb']:.0f} MB after imports)"
        )
        one = _run_worker("one", root)
        ms = [t * 1000 for t in one["timings"]]
        print(
            f"one symbol, {args.years} y:        {statistics.median(ms):8.2f} ms median, {_p95(ms):.2f} ms p95 "
            f"(target < {TARGET_ONE_MS:.0f} ms; 200 random codes)"
        )
        search = _run_search_worker()
        print(
            f"search API:               {search['p50_ms']:8.2f} ms p50, {search['p95_ms']:.2f} ms p95 "
            f"(target p95 < {TARGET_SEARCH_MS:.0f} ms; {search['requests']} requests over "
            f"{search['instruments']:,} instruments, one client)"
        )
        size = sum(f.stat().st_size for f in Path(root).rglob("*") if f.is_file())
        print(f"disk: {size / 1e6:,.0f} MB (per-symbol Parquet files + Arrow snapshot)")
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
