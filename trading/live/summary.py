"""The daily summary of each deployment (``DeploymentDay``), written after the close: its equity curve.

The bucket's equity is its capital plus the realized and unrealized P&L of its own positions, i.e.
the bucket's cash (capital less every buy with commission, plus every sell less commission and
tax: ``trading.live.buckets``) plus what it holds at the day's price. The day's price of a symbol
is the close of its bar of that day in the bar store, else its latest price at ``now``
(``trading.paper.prices.latest_price``: a quote, else the newest bar), else its entry price.
``pnl`` is the change from the previous summary's equity (the capital on the first day).

Entry points (pure of hidden clock reads: ``now`` is passed down)::

    day_summaries(*, day=None, now=None) -> int    # every active deployment of that day
    deployment_day_write(*, deployment, day, now=None) -> DeploymentDay
    bucket_equity(*, deployment, now=None) -> Decimal
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from core import clock, events
from core.audit import Actor, audit_record
from marketdata.calendars import SEOUL
from trading import risk
from trading.live.buckets import Bucket, buckets_of
from trading.live.models import ACTIVE_STATES, Deployment, DeploymentDay, DeploymentSignal, DeploymentState, Verdict
from trading.orders.models import Fill


def _money(value: float) -> Decimal:
    return Decimal(repr(round(value, 4)))


def day_prices(symbols: list[str], day: dt.date, now: dt.datetime) -> dict[str, float]:
    """The close of each symbol's bar of ``day``, else its latest price at ``now``."""
    from marketdata.selectors import bar_store
    from trading.paper.prices import latest_price

    prices: dict[str, float] = {}
    if not symbols:
        return prices
    bars = bar_store().read(symbols, day, day)
    for i, code in enumerate(bars.codes):
        a, b = int(bars.offsets[i]), int(bars.offsets[i + 1])
        if b > a:
            prices[code] = float(bars.close[b - 1])
    for symbol in symbols:
        if symbol not in prices:
            point = latest_price(symbol, now=now)
            if point is not None:
                prices[symbol] = float(point.price)
    return prices


def paper_commission() -> float:
    from trading.paper.matching import paper_costs

    return float(paper_costs().commission)


def bucket_equity(*, deployment: Deployment, now: dt.datetime | None = None) -> Decimal:
    """The bucket's equity now (cash plus its positions at their latest price)."""
    return buckets_equity(deployments=[deployment], now=now)[deployment.pk]


def buckets_equity(*, deployments: list[Deployment], now: dt.datetime | None = None) -> dict[int, Decimal]:
    """Each deployment's bucket equity now, read together: one pass over their fills, one price per symbol."""
    now = now or clock.now()
    buckets = buckets_of({deployment.pk: deployment.capital for deployment in deployments},
                         commission=paper_commission())
    symbols = sorted({symbol for bucket in buckets.values() for symbol in bucket.held()})
    prices = day_prices(symbols, now.astimezone(SEOUL).date(), now)
    return {pk: _money(bucket.equity(prices)) for pk, bucket in buckets.items()}


def deployment_day_write(*, deployment: Deployment, day: dt.date, now: dt.datetime | None = None,
                         bucket: Bucket | None = None, prices: dict[str, float] | None = None) -> DeploymentDay:
    """Write (or rewrite) ``deployment``'s summary of ``day``."""
    now = now or clock.now()
    if bucket is None:
        bucket = buckets_of({deployment.pk: deployment.capital}, commission=paper_commission())[deployment.pk]
    held = bucket.held()
    if prices is None:
        prices = day_prices(list(held), day, now)
    invested = sum(p.quantity * prices.get(s, p.entry_price) for s, p in held.items())
    equity = bucket.cash + invested
    before = (DeploymentDay.objects.filter(deployment=deployment, day__lt=day).order_by("-day")
              .values_list("equity", flat=True).first())
    base = float(before) if before is not None else float(deployment.capital)
    start = dt.datetime.combine(day, dt.time(0, 0), SEOUL)
    signals = DeploymentSignal.objects.filter(deployment=deployment, decided_at__gte=start,
                                              decided_at__lt=start + dt.timedelta(days=1))
    fills = Fill.objects.filter(order__deployment_signals__deployment=deployment, filled_at__gte=start,
                                filled_at__lt=start + dt.timedelta(days=1))
    row, _created = DeploymentDay.objects.update_or_create(
        deployment=deployment, day=day,
        defaults={"equity": _money(equity), "cash": _money(bucket.cash), "invested": _money(invested),
                  "pnl": _money(equity - base), "positions": len(held), "signals": signals.count(),
                  "orders": signals.filter(order__isnull=False).count(), "fills": fills.count(),
                  "blocked": signals.filter(verdict=Verdict.BLOCKED).count(), "note": deployment.data_note[:300]})
    return row


def day_summaries(*, day: dt.date | None = None, now: dt.datetime | None = None) -> int:
    """Summaries of ``day`` (default: today in Seoul) for every deployment running, paused or halted
    (or stopped that day or later), replays excepted; returns how many were written."""
    now = now or clock.now()
    day = day or now.astimezone(SEOUL).date()
    start = dt.datetime.combine(day, dt.time(0, 0), SEOUL)
    rows = list(Deployment.objects.filter(Q(state__in=(*ACTIVE_STATES, DeploymentState.HALTED))
                                          | Q(state=DeploymentState.STOPPED, stopped_at__gte=start),
                                          replay=False))  # a replay writes its own (replayed) days
    buckets = buckets_of({d.pk: d.capital for d in rows}, commission=paper_commission())
    symbols = sorted({s for b in buckets.values() for s in b.held()})
    prices = day_prices(symbols, day, now)
    written = {deployment.pk: deployment_day_write(deployment=deployment, day=day, now=now,
                                                   bucket=buckets[deployment.pk], prices=prices)
               for deployment in rows}
    buckets_rescale_accounts(deployments=[d for d in rows if d.is_active], days=written, now=now)
    return len(rows)


def buckets_rescale_accounts(*, deployments: list[Deployment], days: dict[int, DeploymentDay],
                             now: dt.datetime) -> list[Deployment]:
    """After the close: where an account's equity fell below the buckets of its active deployments
    (a loss outside them, a withdrawal), each bucket shrinks in proportion, never below what it holds
    (``trading.risk.buckets_rescale``), as ``Deployment.capital_limit``, which the guard's capital
    bucket then respects; when the account has room again the limit is lifted. Each change is audited
    and announced. The deployments whose limit changed."""
    from trading.live.services import account_equity

    by_account: dict[int, list[Deployment]] = {}
    for deployment in deployments:
        by_account.setdefault(deployment.account_id, []).append(deployment)
    changed = []
    for group in by_account.values():
        equity = account_equity(group[0].account, now=now)
        allotments = {d.pk: days[d.pk].equity for d in group}
        held = {d.pk: days[d.pk].invested for d in group}
        scaled = risk.buckets_rescale(allotments, held, equity)
        for deployment in group:
            limit = scaled[deployment.pk] if scaled[deployment.pk] < allotments[deployment.pk] else None
            if limit != deployment.capital_limit:
                changed.append(_capital_limit_set(deployment, limit, equity))
    return changed


def _capital_limit_set(deployment: Deployment, limit: Decimal | None, equity: Decimal) -> Deployment:
    with transaction.atomic():
        before = deployment.capital_limit
        Deployment.objects.filter(pk=deployment.pk).update(capital_limit=limit)
        deployment.capital_limit = limit
        audit_record(actor=Actor.system("deployment buckets"), action="deployment.capital_limit",
                     owner=deployment.owner, target=deployment,
                     before={"capital_limit": None if before is None else str(before)},
                     after={"capital_limit": None if limit is None else str(limit), "account_equity": str(equity)})
        events.publish(user_id=deployment.owner_id, event="deployment.capital_limited",
                       payload={"id": deployment.pk, "name": deployment.name,
                                "capital_limit": None if limit is None else str(limit)})
    return deployment


__all__ = ["bucket_equity", "buckets_equity", "day_prices", "day_summaries", "deployment_day_write"]
