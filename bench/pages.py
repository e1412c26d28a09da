"""Server time of every user-facing page: ``python -m bench.pages [--repeat 30] [--json] [--only PREFIX ...]``.

One investor's realistic world is built in a scratch database (embedded mode: SQLite in a temp
DATA_DIR; ``DATABASE_URL=postgres://…/<name>``: a fresh test database ``test_<name>``, dropped
afterwards): a synthetic market, strategies and watchlists, a dozen finished backtests with their
result files and a sweep, a paper account and a (mock) KIS account with orders, fills and positions,
deployments with signals and days, notifications, feedback reports, webhooks and API tokens.

Every route of the URL resolver is walked (like ``tests/test_authorization_sweep.py``), except the
admin, the API (its own benchmark) and the routes listed in :data:`SKIPPED` (each with its reason);
path parameters are filled with the investor's objects. Each page answering a signed-in GET with 200
is requested ``--repeat`` times with Django's test ``Client`` after one warm-up request; per page:
median and p90 server time (``time.perf_counter`` around the request), the query count of one
request (counted by a ``connection.execute_wrapper``) and the answer's size. Routes whose GET is not a page (an action
answering 302/405, ...) are listed as skipped with their status. The pages over 10 ms are named.

Last measured 2026-12-05 on an idle 2-core machine, embedded (SQLite), 30 repetitions: 58 pages measured,
52 under 10 ms (the day before: 25). The floor of a page is ~3 ms (it was ~6-7: the feedback dialog and the
page chrome are rendered once per process and language, the bell's and banners' context read only when
used); a JSON answer ~1.4 ms. Over 10 ms: the deployment page (19.8 ms, 109 KB, 19 queries: drift report,
signals of the day, equity curve; was ~57), /strategies/<pk>/edit/ (13.6) and /strategies/new/ (11.6:
their forms), /trading/positions/ (13.0; was ~38) and /trading/orders/ (12.2; was ~34: long tables now
rendered in Python), /dashboard/ (12.1: 10 queries). Long tables render in Python where a row costs
0.3-0.5 ms in Django's template language (trading/orders/tables.py, trading/templatetags/live_rows.py,
backtests/templatetags/backtest_rows.py, ...), each pinned byte for byte against its old template.
Full stack (PostgreSQL + Redis): each page ~3-8 ms more (the queries' round trips).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.scratch import run_in_scratch, scratch_database

TARGET_MS = 10.0
PASSWORD = "bench-pages-Secret-1"
EMAIL = "investor@bench.example"
CODES = [f"{i:06d}" for i in range(1, 41)]

# Route (as the resolver spells it, or a prefix ending in "/") -> why it is not measured.
SKIPPED: dict[str, str] = {
    "admin/": "the admin (not a user-facing page)",
    "api/": "the API (JSON, not a page; bench.service measures it)",
    "health": "a probe, not a page", "ready": "a probe, not a page", "metrics": "Prometheus' scrape, not a page",
    "ops/alerts/": "Alertmanager's webhook, not a page",
    "notifications/telegram/webhook/": "Telegram's webhook, not a page",
    "trading/accounts/<int:pk>/verify/": "waits on the broker",
    "trading/accounts/<int:pk>/reconcile/": "waits on the broker",
    "backtests/<int:pk>/download/<str:name>": "a file download, not a page",
    "trading/fills.csv": "a CSV download, not a page",
    "accounts/": "allauth's pages (login, sign-up, e-mail, 2FA): measured only where listed in ALLAUTH",
}
# allauth's pages a signed-in investor sees
ALLAUTH = ["accounts/email/", "accounts/password/change/", "accounts/2fa/"]

# Route prefix -> parameter name -> key of the investor's objects, or "=literal"
PARAMETERS: dict[str, dict[str, str]] = {
    "settings/tokens/<int:pk>/": {"pk": "token"},
    "strategies/<int:pk>/": {"pk": "strategy"},
    "strategies/presets/<str:key>/": {"key": "=sma_cross.default"},
    "strategies/watchlists/<int:pk>/": {"pk": "watchlist"},
    "backtests/<int:pk>/": {"pk": "run", "name": "=trades.csv"},
    "backtests/sweeps/<int:pk>/": {"pk": "sweep", "cell_id": "cell"},
    "markets/<str:code>/": {"code": "=" + CODES[0]},
    "trading/accounts/<int:pk>/": {"pk": "paper_account"},
    "trading/orders/<int:pk>/": {"pk": "order"},
    "trading/positions/<int:pk>/": {"pk": "position"},
    "trading/deployments/<int:pk>/": {"pk": "deployment"},
    "notifications/<int:pk>/": {"pk": "notification"},
    "notifications/announcements/<int:pk>/": {"pk": "=1"},
    "notifications/webhooks/<int:pk>/": {"pk": "webhook"},
    "feedback/<int:pk>/": {"pk": "feedback"},
}


def walk(patterns: Any, prefix: str = "") -> Iterator[str]:
    from django.urls import URLResolver

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def _skip_reason(route: str) -> str | None:
    if route in ALLAUTH:
        return None
    if route in SKIPPED:
        return SKIPPED[route]
    for prefix, reason in SKIPPED.items():
        if prefix.endswith("/") and "<" not in prefix and route.startswith(prefix):
            return reason
    return None


def _path(route: str, objects: dict[str, int]) -> str | None:
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    if re.search(r"\(\?P<", route):
        return None
    if not names:
        return "/" + route.replace("^", "").replace("$", "")
    prefixes = [prefix for prefix in PARAMETERS if route.startswith(prefix)]
    if not prefixes:
        return None
    mapping = PARAMETERS[max(prefixes, key=len)]
    if any(name not in mapping for name in names):
        return None
    values = {name: mapping[name][1:] if mapping[name].startswith("=") else str(objects[mapping[name]])
              for name in names}
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)


def pages(objects: dict[str, int], only: list[str] | None = None) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """(route, path) of every page to measure, and the skipped routes with their reasons."""
    from django.urls import get_resolver

    chosen, skipped = [], []
    for route in sorted(set(walk(get_resolver().url_patterns))):
        if only is not None and not any(route.startswith(prefix) for prefix in only):
            continue
        reason = _skip_reason(route)
        if reason is not None:
            if not route.startswith(("admin/", "api/", "accounts/")):  # whole areas: named once below
                skipped.append({"route": "/" + route, "reason": reason})
            continue
        path = _path(route, objects)
        if path is None:
            skipped.append({"route": "/" + route, "reason": "no value for its parameters"})
            continue
        chosen.append((route, path))
    if only is None:
        skipped[:0] = [{"route": "/admin/…", "reason": SKIPPED["admin/"]}, {"route": "/api/…", "reason": SKIPPED["api/"]},
                       {"route": "/accounts/… (other than " + ", ".join("/" + a for a in ALLAUTH) + ")",
                        "reason": "allauth's signed-out pages (login, sign-up, password reset, e-mail links)"}]
    return chosen, skipped


# ---------------------------------------------------------------- the world


def build_world(*, backtests: int = 12, orders: int = 60, seed: int = 7) -> dict[str, int]:
    """One investor with a realistic amount of everything; returns the ids the routes point at."""
    from django.conf import settings
    from django.utils import timezone

    from accounts import services as account_services
    from accounts.models import User
    from backtests import services as backtest_services
    from backtests import sweeps, validation
    from core.audit import Actor
    from marketdata.models import Instrument
    from marketdata.store import BarStore
    from marketdata.synthetic import synthetic_code, write_universe
    from notifications.feedback_services import feedback_submit
    from notifications.models import Notification
    from notifications.webhook_services import webhook_create
    from strategies.models import Strategy, Watchlist
    from trading import services as trading_services
    from trading.live.models import Deployment, DeploymentDay, DeploymentSignal, DeploymentState
    from trading.models import AccountStatus, BrokerAccount
    from trading.orders.models import Fill, Order, Position

    store = BarStore(settings.MARKET_DATA_ROOT)
    codes = [synthetic_code(i) for i in range(len(CODES))]
    CODES[:] = codes
    PARAMETERS["markets/<str:code>/"]["code"] = "=" + codes[0]
    write_universe(store, market="KOSPI", symbols=len(codes), years=3, seed=seed, start=dt.date(2022, 1, 3))
    Instrument.objects.bulk_create([Instrument(code=code, name=f"합성 {code}", market="KOSPI") for code in codes],
                                   ignore_conflicts=True)
    user = User.objects.create_user(email=EMAIL, password=PASSWORD)
    actor = Actor.of_user(user)
    instruments = {i.code: i for i in Instrument.objects.filter(code__in=codes)}
    watchlists = [Watchlist.objects.create(owner=user, name=f"관심 {i}") for i in range(4)]
    for i, watchlist in enumerate(watchlists):
        watchlist.instruments.set([instruments[code] for code in codes[i * 5:i * 5 + 8]])
    kinds = [("sma_cross", {"fast": 5, "slow": 20}), ("ema_cross", {"fast": 12, "slow": 26}),
             ("rsi_reversion", {"period": 14, "buy_below": 30.0, "sell_above": 70.0})]
    strategies = [Strategy.objects.create(owner=user, name=f"전략 {i}", strategy_type=kinds[i % 3][0],
                                          params=kinds[i % 3][1], watchlist=watchlists[i % 4], max_positions=5)
                  for i in range(8)]
    for strategy in strategies:
        strategy.instruments.set([instruments[code] for code in codes[:3]])

    # a dozen finished backtests (the plan's daily cap is not what is measured here)
    limits_check, backtest_services.backtest_limits_check = backtest_services.backtest_limits_check, lambda **kw: None
    enqueue, backtest_services._enqueue = backtest_services._enqueue, lambda run_id: None
    sweep_enqueue, sweeps._enqueue = sweeps._enqueue, lambda sweep_id, chunks: None
    try:
        runs = []
        for i in range(backtests):
            kind, params = kinds[i % 3]
            fields = {"strategy_type": kind, "params": params, "codes": ", ".join(codes[i % 30:i % 30 + 5]),
                      "start": dt.date(2022, 3, 1), "end": dt.date(2024, 12, 20), "cash": 10_000_000}
            checked = validation.backtest_request_check(user=user, fields=fields)
            run = backtest_services.backtest_start(user=user, spec=checked.spec, title=f"백테스트 {i}",
                                                   strategy=strategies[i % len(strategies)])
            backtest_services.backtest_execute(run_id=run.pk)
            runs.append(run)
        checked = validation.backtest_request_check(user=user, fields={
            "strategy_type": "sma_cross", "params": {"fast": 5, "slow": 20}, "codes": ", ".join(codes[:3]),
            "start": dt.date(2022, 3, 1), "end": dt.date(2024, 12, 20), "cash": 10_000_000})
        sweep = sweeps.sweep_start(user=user, spec=checked.spec, title="grid", x_param="fast",
                                   x_values="5, 10", y_param="slow", y_values="30, 60")
        sweeps.sweep_execute_chunk(sweep_id=sweep.pk, cell_ids=list(sweep.cells.values_list("pk", flat=True)))
    finally:
        backtest_services.backtest_limits_check = limits_check
        backtest_services._enqueue = enqueue
        sweeps._enqueue = sweep_enqueue

    token, _key = account_services.api_token_create(user=user, name="휴대폰")
    account_services.api_token_create(user=user, name="노트북")
    paper = trading_services.broker_account_open_paper(actor=actor, owner=user, nickname="모의투자")
    kis = BrokerAccount(owner=user, broker="kis", environment="mock", account_no="5012345601", nickname="한투 모의",
                        status=AccountStatus.VERIFIED)
    kis.set_keys(app_key="P" * 36, app_secret="S" * 180)
    kis.save()

    now = timezone.now()
    order_rows, fill_rows = [], []
    for account in (paper, kis):
        for i in range(orders):
            symbol, side = codes[i % 12], ("buy" if i % 3 else "sell")
            state = ("filled", "filled", "filled", "cancelled", "rejected", "accepted")[i % 6]
            quantity, price = Decimal(10 + i % 7), Decimal(50_000 + 100 * i)
            filled = quantity if state == "filled" else Decimal(0)
            order_rows.append(Order(owner=user, account=account, symbol=symbol, side=side, quantity=quantity,
                                    order_type="limit", price=price, state=state, filled_quantity=filled,
                                    filled_amount=filled * price, average_fill_price=price if filled else None,
                                    order_day=(now - dt.timedelta(days=i // 4)).date(),
                                    submitted_at=now - dt.timedelta(hours=6 * i),
                                    closed_at=None if state == "accepted" else now - dt.timedelta(hours=6 * i - 1),
                                    reject_reason="주문가능금액 부족" if state == "rejected" else ""))
    made = Order.objects.bulk_create(order_rows)
    for order in made:
        if order.state == "filled":
            fill_rows.append(Fill(order=order, account=order.account, fill_key=f"f{order.pk}", symbol=order.symbol,
                                  side=order.side, quantity=order.quantity, price=order.price,
                                  value=order.quantity * order.price, commission=Decimal(75), tax=Decimal(0),
                                  cumulative_quantity=order.quantity, filled_at=order.closed_at))
    Fill.objects.bulk_create(fill_rows)
    positions = [Position(account=account, symbol=code, quantity=Decimal(10 + i), cost=Decimal(600_000 + 1000 * i),
                          opening_quantity=Decimal(10 + i))
                 for account in (paper, kis) for i, code in enumerate(codes[:10])]
    Position.objects.bulk_create(positions)

    deployments = []
    for i, account in enumerate((paper, paper, kis)):
        strategy = strategies[i]
        deployments.append(Deployment.objects.create(
            owner=user, strategy=strategy, account=account, name=f"자동매매 {i}", capital=Decimal(10_000_000),
            symbols=codes[i * 4:i * 4 + 4], timing="open", strategy_type=strategy.strategy_type,
            params=strategy.params, risk=strategy.engine_options(),
            state=(DeploymentState.RUNNING, DeploymentState.PAUSED, DeploymentState.RUNNING)[i],
            started_at=now - dt.timedelta(days=40)))
    signals, days = [], []
    for deployment in deployments:
        for d in range(30):
            day = (now - dt.timedelta(days=30 - d)).date()
            days.append(DeploymentDay(deployment=deployment, day=day, equity=Decimal(10_000_000 + 20_000 * d),
                                      cash=Decimal(4_000_000), invested=Decimal(6_000_000 + 20_000 * d),
                                      pnl=Decimal(20_000 * d), positions=3, signals=2, orders=1, fills=1))
            for s, symbol in enumerate(deployment.symbols[:2]):
                signals.append(DeploymentSignal(
                    deployment=deployment, decided_at=now - dt.timedelta(days=30 - d), bar_date=day, symbol=symbol,
                    side="buy" if (d + s) % 2 else "sell", reason="cross", price=Decimal(50_000),
                    quantity_wanted=Decimal(10), quantity=Decimal(10), verdict="passed",
                    intent_id=uuid.uuid4()))
    DeploymentDay.objects.bulk_create(days)
    DeploymentSignal.objects.bulk_create(signals)

    kinds_events = [("order_filled", "order.filled"), ("backtest_finished", "backtest.finished"),
                    ("deployment_paused", "deployment.paused")]
    Notification.objects.bulk_create([
        Notification(owner=user, kind=kinds_events[i % 3][0], event=kinds_events[i % 3][1],
                     title=f"알림 {i}", body="본문 " * 10, link="/trading/orders/",
                     read_at=now if i % 2 else None) for i in range(80)])
    reports = [feedback_submit(user=user, what_happened=f"화면이 멈춤 {i}", expected="정상", steps="1. 클릭")
               for i in range(5)]
    hooks = [webhook_create(actor=actor, owner=user, url=f"https://hooks.example.com/{i}",
                            events=["order_filled"])[0] for i in range(3)]
    return {"user": user.pk, "strategy": strategies[0].pk, "watchlist": watchlists[0].pk, "run": runs[0].pk,
            "sweep": sweep.pk, "cell": sweep.cells.order_by("pk").first().pk, "token": token.pk,
            "paper_account": paper.pk, "broker_account": kis.pk,
            "order": Order.objects.filter(account=paper).order_by("pk").first().pk,
            "position": Position.objects.filter(account=paper).order_by("pk").first().pk,
            "deployment": deployments[0].pk,
            "notification": Notification.objects.filter(owner=user).order_by("pk").first().pk,
            "feedback": reports[0].pk, "webhook": hooks[0].pk}


# ---------------------------------------------------------------- the measure


def measure(objects: dict[str, int], *, repeat: int, only: list[str] | None = None) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    chosen, skipped = pages(objects, only)
    client = Client(raise_request_exception=False)
    assert client.login(email=EMAIL, password=PASSWORD)
    rows = []
    for route, path in chosen:
        first = client.get(path)  # warm-up: the first request fills caches, compiles templates
        if first.status_code != 200 or getattr(first, "streaming", False):
            where = first.get("Location", "")
            skipped.append({"route": "/" + route, "reason": f"GET {path} answers {first.status_code}"
                            + (f" -> {where}" if where else "") + " (not a page)"})
            continue
        queries = []
        with connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)):
            response = client.get(path)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        rows.append({"page": path, "route": "/" + route, "median_ms": round(statistics.median(times), 2),
                     "p90_ms": round(times[min(len(times) - 1, int(0.9 * len(times)))], 2),
                     "queries": len(queries), "kb": round(len(response.content) / 1024, 1)})
    over = [row["page"] for row in rows if row["median_ms"] > TARGET_MS]
    return {"repeat": repeat, "pages": rows, "skipped": skipped, "over_target": over, "target_ms": TARGET_MS}


def report(figures: dict[str, Any]) -> None:
    print(f"page server time ({figures['mode']}, {figures['database']}), {figures['repeat']} requests each "
          f"after one warm-up; target: median < {figures['target_ms']:.0f} ms")
    width = max([len(row["page"]) for row in figures["pages"]] + [4])
    print(f"  {'page':<{width}}  {'median ms':>9}  {'p90 ms':>7}  {'queries':>7}  {'KB':>6}")
    for row in figures["pages"]:
        mark = "  OVER" if row["median_ms"] > figures["target_ms"] else ""
        print(f"  {row['page']:<{width}}  {row['median_ms']:>9.2f}  {row['p90_ms']:>7.2f}  {row['queries']:>7}  "
              f"{row['kb']:>6.1f}{mark}")
    print(f"  pages over {figures['target_ms']:.0f} ms: {', '.join(figures['over_target']) or 'none'}")
    print("  skipped:")
    for row in figures["skipped"]:
        print(f"    {row['route']}: {row['reason']}")


def _setup(root: Path) -> dict[str, str]:
    os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", DATA_DIR=str(root),
                      MARKET_DATA_ROOT=str(root / "marketdata"), MEDIA_ROOT=str(root / "media"),
                      LOG_LEVEL="ERROR", DEBUG="false", MARKET_DATA_KIS_APP_KEY="", PAPER_QUOTE_SOURCE="")
    import logging
    import warnings

    import django

    django.setup()
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collected static files here
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 405s of the actions walked
    from django.conf import settings

    # DEBUG off as in production; static URLs without the manifest (no collectstatic in a scratch folder)
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for name in ("KIS_REAL", "KIS_MOCK", "KIWOOM_REAL", "KIWOOM_MOCK"):  # never a real broker
        setattr(settings, f"BROKER_{name}_URL", "http://127.0.0.1:9")
    return scratch_database()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30, help="requests per page after the warm-up")
    parser.add_argument("--backtests", type=int, default=12)
    parser.add_argument("--orders", type=int, default=60, help="orders per account")
    parser.add_argument("--only", nargs="*", help="route prefixes to measure (as the resolver spells them)")
    parser.add_argument("--json", action="store_true")
    return parser


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    objects = build_world(backtests=args.backtests, orders=args.orders)
    build_s = round(time.perf_counter() - started, 1)
    return {"build_s": build_s, **measure(objects, repeat=args.repeat, only=args.only)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return run_in_scratch(parser().parse_args(argv), prefix="bench-pages-", setup=_setup, run=run, report=report)


if __name__ == "__main__":
    main()
