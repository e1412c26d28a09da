"""The runner's side of the conflict guard: what the pure rules of ``trading.risk`` read, from the database.

``guard_context(intents, now=)`` gathers, for the intents of ONE decision time (every deployment,
every user), the ``trading.risk.GuardContext``:

- ``claims``: the ``SymbolClaim`` of each (account, symbol) the intents touch (one owner);
- ``buckets``: each deployment's capital bucket. The bucket is the deployment's own money: its
  capital plus what its closed trades earned or lost (``trading.live.buckets``), so the allotment
  given to the guard is the bucket's cash plus what its positions and open buys cost; the positions
  this decision sells count as cash at their expected proceeds (on paper their cash comes when they
  fill, and the buys waiting for it go then: ``runner.place_waiting``); never more than its
  ``capital_limit`` when the account's equity fell below its buckets (``summary.buckets_rescale_accounts``);
- ``books``, ``rules``, ``pnl_today``: for users with ``RiskSettings`` only: their equity (every usable
  account: ``services.account_equity``), the market value of each symbol they hold with its sector,
  and today's P&L of their deployments (bucket equity now less the last summary before today, or the
  capital);
- ``adv``: each symbol's average daily traded value over ``risk.DEFAULT_ADV_DAYS`` bars before the
  decision day (the bars' ``value``, else close × volume), and the platform's share
  (``LIVE_PLATFORM_CAP_SHARE``, a fraction; default ``risk.DEFAULT_PLATFORM_SHARE``).

``judge(intents, now=)`` runs ``trading.risk.guard_intents`` and writes each verdict back on the
runner's intents (``verdict``, ``guard_code``, ``guard_message`` in the active language,
``final_quantity``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
from django.conf import settings as django_settings
from django.utils.translation import gettext

from marketdata.calendars import SEOUL
from trading import risk
from trading.live.buckets import buckets_of
from trading.live.summary import paper_commission

SELL_TAX_GUESS = 0.002  # the runner's own estimate of a sell's tax when it counts the proceeds


def _decimal(value: float) -> Decimal:
    return Decimal(repr(round(float(value), 4)))


def claims_of(account_ids: Iterable[int]) -> dict[tuple[int, str], risk.SymbolOwner]:
    from trading.live.models import SymbolClaim

    rows = (SymbolClaim.objects.filter(account_id__in=list(set(account_ids)))
            .values_list("account_id", "symbol", "deployment_id", "deployment__name"))
    return {(account, symbol): risk.SymbolOwner(owner, name) for account, symbol, owner, name in rows}


def guard_buckets(intents: Sequence[Any], commission: float) -> dict[int, risk.Bucket]:
    from trading.live.models import Deployment

    deployments = {d.pk: d for d in Deployment.objects.filter(pk__in={i.deployment_id for i in intents})
                   .only("id", "name", "capital", "capital_limit", "account_id")}
    buckets = buckets_of({pk: d.capital for pk, d in deployments.items()}, commission=commission)
    selling: dict[int, set[str]] = defaultdict(set)
    proceeds: dict[int, float] = defaultdict(float)
    for item in intents:
        if item.side == "sell":
            selling[item.deployment_id].add(item.symbol)
            proceeds[item.deployment_id] += item.price * item.quantity * (1.0 - commission - SELL_TAX_GUESS)
    found = {}
    for pk, bucket in buckets.items():
        held = bucket.held()
        invested = sum(p.cost for s, p in held.items() if s not in selling[pk])
        open_buys = sum(bucket.open_buys.values())
        left = bucket.available + proceeds[pk]
        allotment = _decimal(left + invested + open_buys)
        if deployments[pk].capital_limit is not None:  # the account lost value: the bucket shrank with it
            allotment = min(allotment, deployments[pk].capital_limit)
        found[pk] = risk.Bucket(account_id=deployments[pk].account_id, allotment=allotment,
                                invested=_decimal(invested), open_buys=_decimal(open_buys), name=deployments[pk].name,
                                held={s: _decimal(p.quantity) for s, p in held.items() if s not in selling[pk]})
    return found


def user_books(user_ids: Iterable[int], *, now: dt.datetime,
               only: Sequence[str] = risk.SpreadRules.FIELDS) -> tuple[dict, dict, dict]:
    """``(books, rules, pnl_today)`` of the users among ``user_ids`` whose ``RiskSettings`` set one of
    ``only``'s limits (the others have no spread rules: nothing to read)."""
    from marketdata.models import Instrument
    from trading.live.models import ACTIVE_STATES, Deployment, DeploymentDay, RiskSettings
    from trading.live.services import account_equity
    from trading.live.summary import buckets_equity
    from trading.models import AccountStatus, BrokerAccount
    from trading.orders.models import Position
    from trading.paper.prices import latest_price

    books, rules, pnl = {}, {}, {}
    today = now.astimezone(SEOUL).date()
    for row in RiskSettings.objects.filter(user_id__in=list(set(user_ids))):
        if all(getattr(row, name) is None for name in only):
            continue
        user = row.user_id
        rules[user] = risk.SpreadRules.of(row)
        accounts = BrokerAccount.objects.filter(owner_id=user).exclude(status=AccountStatus.DISABLED)
        equity = sum((account_equity(account, now=now) for account in accounts), Decimal(0))
        values: dict[str, Decimal] = defaultdict(Decimal)
        for symbol, quantity, cost in Position.objects.filter(account__owner_id=user, quantity__gt=0).values_list(
                "symbol", "quantity", "cost"):
            point = latest_price(symbol, now=now)
            values[symbol] += quantity * point.price if point is not None else cost
        sectors = dict(Instrument.objects.filter(code__in=list(values)).exclude(sector="")
                       .values_list("code", "sector"))
        books[user] = risk.UserBook(equity=equity, values=dict(values), sectors=sectors)
        pnl[user] = Decimal(0)
    # today's P&L of every active deployment of those users, read together (not one query per deployment)
    deployments = list(Deployment.objects.filter(owner_id__in=list(rules), state__in=ACTIVE_STATES))
    equity_now = buckets_equity(deployments=deployments, now=now)
    bases: dict[int, Decimal] = {}
    for deployment_id, equity in (DeploymentDay.objects.filter(deployment__in=deployments, day__lt=today)
                                  .order_by("deployment_id", "-day").values_list("deployment_id", "equity")):
        bases.setdefault(deployment_id, equity)  # the newest summary before today
    for deployment in deployments:
        pnl[deployment.owner_id] += equity_now[deployment.pk] - bases.get(deployment.pk, deployment.capital)
    return books, rules, pnl


def average_traded_value(symbols: Sequence[str], day: dt.date, days: int = risk.DEFAULT_ADV_DAYS) -> dict[str, Decimal]:
    """Each symbol's average daily traded value (KRW) over its last ``days`` bars before ``day``."""
    from marketdata.selectors import bar_store

    if not symbols:
        return {}
    bars = bar_store().read(list(symbols), day - dt.timedelta(days=days * 2 + 14), day - dt.timedelta(days=1))
    found = {}
    for i, code in enumerate(bars.codes):
        a, b = int(bars.offsets[i]), int(bars.offsets[i + 1])
        if b <= a:
            continue
        a = max(a, b - days)
        traded = np.asarray(bars.value[a:b], dtype=np.float64)
        fallback = np.asarray(bars.close[a:b]) * np.asarray(bars.volume[a:b])
        traded = np.where(np.isnan(traded), fallback, traded)
        if np.isfinite(traded).any():
            found[code] = _decimal(float(np.nanmean(traded)))
    return found


def guard_context(intents: Sequence[Any], *, now: dt.datetime) -> risk.GuardContext:
    commission = paper_commission()
    books, rules, pnl = user_books({i.owner_id for i in intents}, now=now)
    share = getattr(django_settings, "LIVE_PLATFORM_CAP_SHARE", risk.DEFAULT_PLATFORM_SHARE)
    return risk.GuardContext(
        claims=claims_of(i.account_id for i in intents), buckets=guard_buckets(intents, commission), books=books,
        rules=rules, pnl_today=pnl,
        adv=average_traded_value(sorted({i.symbol for i in intents}), now.astimezone(SEOUL).date()),
        platform_share=None if share is None else Decimal(str(share)))


def judge(intents: list[Any], *, now: dt.datetime) -> list[Any]:
    """The guard's verdict on every intent of one decision time, written back on them."""
    from marketdata.models import Instrument
    from marketdata.selectors import instrument_lots

    if not intents:
        return intents
    context = guard_context(intents, now=now)
    symbols = sorted({i.symbol for i in intents})
    lots = instrument_lots(codes=symbols)
    sectors = dict(Instrument.objects.filter(code__in=symbols).exclude(sector="").values_list("code", "sector"))
    priced = [i for i in intents if i.price > 0]
    for item in intents:
        if item.price <= 0:
            item.verdict, item.final_quantity, item.guard_code = "blocked", 0.0, "no_price"
    guard_in = [risk.GuardIntent(deployment_id=i.deployment_id, user_id=i.owner_id, account_id=i.account_id,
                                 symbol=i.symbol, side=i.side, quantity=Decimal(repr(round(i.quantity, 8))),
                                 price=_decimal(i.price), lot=Decimal(repr(lots.get(i.symbol, (1.0, 0.0))[0])),
                                 sector=sectors.get(i.symbol, ""))
                for i in priced]
    for item, verdict in zip(priced, risk.guard_intents(guard_in, context), strict=True):
        item.verdict = str(verdict.verdict)
        item.guard_code = verdict.code
        item.guard_message = verdict.message_in(gettext)
        item.final_quantity = float(verdict.quantity)
    return intents


def daily_loss_users(user_ids: Iterable[int], *, now: dt.datetime) -> dict[int, tuple[Decimal, Decimal]]:
    """The users among ``user_ids`` whose loss today reached their daily loss limit:
    ``{user: (loss in KRW, limit in percent)}``."""
    books, rules, pnl = user_books(user_ids, now=now, only=("daily_loss_limit",))
    breached = risk.daily_loss_users(risk.GuardContext(books=books, rules=rules, pnl_today=pnl))
    return {user: (-pnl[user], rules[user].daily_loss_limit) for user in breached}


__all__ = ["average_traded_value", "claims_of", "daily_loss_users", "guard_buckets", "guard_context", "judge",
           "user_books"]
