"""Benchmark of the live runner at the open: ``python -m bench.live [--deployments 10000] [--json]``.

``--deployments`` running deployments (one user, one paper account and one strategy each) of
``--per`` symbols drawn from a ``--symbols`` synthetic universe (``marketdata.synthetic``, two years
of daily bars ending the day before the decision), with a few strategy presets (so the signals are
computed once per preset over the symbols it uses), are evaluated at the pre-open slot of
Wednesday 2026-03-04 (08:30 Seoul):

1. **decide** (``trading.live.runner.decide``): due deployments found, bars read once, signals, the
   buckets, every intent sized and persisted as a ``DeploymentSignal``: wall time to all intents
   persisted (target < 10 s), intents created;
2. **guard** (``runner.guard_slot``): the conflict guard over every signal of the slot at once, verdicts
   written: wall time;
3. peak memory: the process's peak RSS (``ru_maxrss``) before and after, and Python's allocation
   peak during the decision (``tracemalloc``, with ``--trace``: slower).

The mode is the environment's: no environment is embedded mode (SQLite in a temp DATA_DIR);
``DATABASE_URL=postgres://…/<name>`` uses a fresh test database ``test_<name>`` (created, dropped).
Building the world (bars, rows) and warming up (the store's snapshot, the signals' compiled code:
what a running worker has done before its first slot; ~1.2 s cold) are not timed. Orders are not
sent (``bench.orders`` measures the order door).

Last measured 2026-12-04 on 2 cores (shared with other work), defaults (10,000 x 10 over 2,878):

    embedded (SQLite)                                 full stack (PostgreSQL)
    (1) decide to all intents persisted  2.15 s  ok     2.21 s  ok  (4.1-6.9 s embedded at a load of 5)
        2,687 intents, all buys (no deployment held anything yet)
    (2) the guard over the slot          1.21 s         0.90 s
        1,780 passed, 900 trimmed (the platform cap: the synthetic symbols are thin), 7 blocked
    (3) peak RSS 440 -> 535 MB                          442 -> 526 MB
        Python allocation peak during the decision: 166 MB (``--trace``, which slows it to ~17 s)

Where the time goes (cProfile): reading the 10,000 deployments (~0.7 s, their JSON fields), the
signal rows' INSERTs (~0.7 s on SQLite, 58 rows a statement), the signals over 2,878 symbols x
~520 bars once per preset (~0.4 s), the buckets (~0.4 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.scratch import run_in_scratch, scratch_database

SEOUL = ZoneInfo("Asia/Seoul")
DAY = dt.date(2026, 3, 4)  # a normal KRX Wednesday; the bars end Tuesday
SLOT = dt.datetime(2026, 3, 4, 8, 30, tzinfo=SEOUL)
PRESETS = (
    ("sma_cross", {"fast": 5, "slow": 20}, "equal_weight"),
    ("sma_cross", {"fast": 10, "slow": 30}, "all_in"),
    ("ema_cross", {"fast": 12, "slow": 26}, "equal_weight"),
    ("rsi_reversion", {"period": 14, "buy_below": 40.0, "sell_above": 60.0}, "equal_weight"),
)
TARGET_SECONDS = 10.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_world(*, deployments: int, symbols: int, per: int, seed: int = 7) -> dict[str, Any]:
    """The universe's bars and instruments, and the running deployments (bulk rows, no services:
    the runner reads what they would have written)."""
    from django.conf import settings

    from accounts.models import User
    from marketdata.models import Instrument
    from marketdata.store import BarStore
    from marketdata.synthetic import synthetic_code, write_universe
    from strategies.models import Strategy
    from trading.live.models import Deployment, DeploymentState, SymbolClaim
    from trading.models import BrokerAccount

    started = time.perf_counter()
    store = BarStore(settings.MARKET_DATA_ROOT)
    summary = write_universe(store, market="KOSPI", symbols=symbols, years=2, seed=seed,
                             start=dt.date(DAY.year - 2, DAY.month, DAY.day))
    codes = [synthetic_code(i) for i in range(symbols)]
    Instrument.objects.bulk_create([Instrument(code=code, name=f"합성 {code}", market="KOSPI") for code in codes],
                                   batch_size=2000, ignore_conflicts=True)
    users = User.objects.bulk_create([User(email=f"live{i}@bench.example", password="!") for i in range(deployments)],
                                     batch_size=2000)
    accounts = BrokerAccount.objects.bulk_create(
        [BrokerAccount(owner=user, broker="paper", environment="mock", nickname="모의", paper_initial_cash=100_000_000)
         for user in users], batch_size=2000)
    strategies = Strategy.objects.bulk_create(
        [Strategy(owner=user, name="bench", strategy_type=PRESETS[i % len(PRESETS)][0],
                  params=PRESETS[i % len(PRESETS)][1], sizing=PRESETS[i % len(PRESETS)][2], max_positions=5)
         for i, user in enumerate(users)], batch_size=2000)
    rng = random.Random(seed)
    rows = []
    for i, (user, account, strategy) in enumerate(zip(users, accounts, strategies, strict=True)):
        preset = PRESETS[i % len(PRESETS)]
        rows.append(Deployment(owner=user, strategy=strategy, account=account, name="bench", capital=10_000_000,
                               symbols=rng.sample(codes, per), timing="open", strategy_type=preset[0],
                               params=preset[1], risk=strategy.engine_options(), state=DeploymentState.RUNNING,
                               started_at=SLOT - dt.timedelta(days=1)))
    made = Deployment.objects.bulk_create(rows, batch_size=2000)
    SymbolClaim.objects.bulk_create([SymbolClaim(account_id=d.account_id, symbol=code, deployment=d)
                                     for d in made for code in d.symbols], batch_size=5000)
    warm_up(store, codes)
    return {"bars": summary.rows, "first_bar": str(summary.first), "last_bar": str(summary.last),
            "build_s": round(time.perf_counter() - started, 1)}


def warm_up(store: Any, codes: list[str]) -> None:
    """What a running worker has done before its first slot: the bar store's snapshot built (the
    ingest's first reader builds it after the close) and the signals' compiled code loaded."""
    import numpy as np

    from strategies import signals

    store.read(codes, DAY - dt.timedelta(days=5), DAY)
    close = 100.0 + np.sin(np.arange(60.0)).reshape(1, -1)
    for kind, params, _sizing in PRESETS:
        signals.compute(kind, open=close, high=close, low=close, close=close, params=params)


def measure(*, trace: bool = False) -> dict[str, Any]:
    """Part 1 (decide) and part 2 (guard) at the slot; the figures."""
    from trading.live import runner
    from trading.live.models import DeploymentSignal

    rss_before = _peak_rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    report = runner.decide(now=SLOT)
    decide_s = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    if trace:
        tracemalloc.stop()
    rss_after = _peak_rss_mb()
    started = time.perf_counter()
    changed = runner.guard_slot(decided_at=SLOT, now=SLOT)
    guard_s = time.perf_counter() - started
    rows = DeploymentSignal.objects.filter(decided_at=SLOT)
    return {"deployments_decided": report.deployments, "stale": report.stale, "intents": rows.count(),
            "buys": rows.filter(side="buy").count(), "sells": rows.filter(side="sell").count(),
            "decide_s": round(decide_s, 2), "guard_s": round(guard_s, 2), "guard_changed": changed,
            "verdicts": _verdicts(rows),
            "peak_rss_mb_before": round(rss_before), "peak_rss_mb_after": round(rss_after),
            "python_peak_mb": None if traced is None else round(traced, 1)}


def _verdicts(rows) -> dict[str, int]:
    from django.db.models import Count

    return {row["verdict"]: row["n"] for row in rows.values("verdict").annotate(n=Count("id"))}


def report(figures: dict[str, Any]) -> None:
    ok = "ok" if figures["decide_s"] < TARGET_SECONDS else "MISSED"
    print(f"live runner at the open ({figures['mode']}, {figures['database']})")
    print(f"  world: {figures['deployments']} deployments x {figures['per']} symbols over {figures['symbols']} "
          f"symbols, {figures['bars']} bars {figures['first_bar']}..{figures['last_bar']} (built in "
          f"{figures['build_s']} s, not timed)")
    print(f"  (1) decide to all intents persisted: {figures['decide_s']} s [{ok}: target < {TARGET_SECONDS:.0f} s]; "
          f"{figures['deployments_decided']} decided, {figures['intents']} intents ({figures['buys']} buys, "
          f"{figures['sells']} sells), stale {figures['stale']}")
    print(f"  (2) the guard over the slot: {figures['guard_s']} s, verdicts {figures['verdicts']}")
    print(f"  (3) peak RSS {figures['peak_rss_mb_before']} MB before, {figures['peak_rss_mb_after']} MB after; "
          f"Python allocation peak during the decision: {figures['python_peak_mb'] or 'not traced (--trace)'} MB")


def _setup(root: Path) -> dict[str, str]:
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(root),
                      MARKET_DATA_ROOT=str(root / "marketdata"), CLOCK_FILE=str(root / "clock.json"),
                      LOG_LEVEL="ERROR", MARKET_DATA_KIS_APP_KEY="", PAPER_QUOTE_SOURCE="")
    import django

    django.setup()

    from core import clock

    clock.set_to(SLOT, tick=False)
    return scratch_database()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=10_000)
    parser.add_argument("--symbols", type=int, default=2_878, help="the synthetic universe's size")
    parser.add_argument("--per", type=int, default=10, help="symbols per deployment")
    parser.add_argument("--trace", action="store_true", help="trace Python allocations during the decision")
    parser.add_argument("--json", action="store_true")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    world = build_world(deployments=args.deployments, symbols=args.symbols, per=args.per)
    return {"deployments": args.deployments, "symbols": args.symbols, "per": args.per, **world,
            **measure(trace=args.trace)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return run_in_scratch(parser().parse_args(argv), prefix="bench-live-", setup=_setup, run=run, report=report)


if __name__ == "__main__":
    main()
