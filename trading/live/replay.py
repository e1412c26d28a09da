"""The demo that trades: a paper deployment replayed over stored bars on a simulated clock.

A deployment with ``replay=True`` (a paper account only) runs over the trading days from
``replay_start`` to ``replay_end`` (the last stored bar when empty), day by day, through the very
code a live day goes through: the runner's decision at the deployment's slot, the order door
(``order_place``), the submit job's service, the paper book's matching, reconciliation into the
ledger, the waiting buys, the daily summary. Services publish their events as they go, so a user
watching the deployment page sees signals, orders, fills and P&L happen, a month in a few minutes.

The replayed time is never the platform's: each step runs inside ``core.clock.scoped`` (this
context's clock only) and ``trading.paper.prices.scoped_quote_source`` (``ReplayQuotes``: this
context's prices only), and the paper book matches only the replay's own account
(``paper_match_account``). No look-ahead: before and at the open the price is the day's open (the
pre-open auction's indicative price, which the opening fills take), in continuous trading still the
open (a daily bar knows nothing in between), from the closing auction on the day's close; the
runner decides on the bars before the day (at the open) or with the close as today's price (at
the close).

One replayed day (``replay_day``), in Seoul time on a normal day (a late open moves every moment
with the session):

- 08:40 the pre-open decision (the runner's ``decide_slot`` for this deployment alone, then
  ``guard_and_send``), its orders sent at once;
- 09:00:01 the open: the auction's orders fill at the day's open; the buys that waited for the sells'
  cash are placed (``runner.place_waiting``) and fill at the open price in continuous trading;
- 15:20 the closing auction's decision (a deployment acting at the close), its orders sent;
- 15:30:01 the close: the closing auction's orders fill at the day's close, the day's leftovers expire
  (a close deployment's buys that waited for its sells' cash find the market closed: they stay
  waiting, and the drift report says so);
- 15:40 the daily summary (``DeploymentDay``).

Orders are sent by calling the submit service here (``order_submit``) so that they reach the book
at the replayed time: a placement made at a replayed moment enqueues no submit job
(``trading.orders.services.enqueue_submit`` checks ``clock.is_scoped()``), since a worker would send
it at the platform's time. A day is done when its ``DeploymentDay`` exists; the next step
takes the first replay day after the last one done, so a rerun or a duplicate message repeats
nothing (the runner is idempotent per decision time, symbol and side).

Doors: starting or resuming a replay deployment (``trading.live.services``: the page, the API, the
admin) or ``replay_begin`` starts its paced replay (``replay_enqueue``): the Celery task
``replay_step`` plays one day, then itself again ``REPLAY_SECONDS_PER_DAY`` later, until the end
(one chain per replay: a newer one replaces an older). The management command
``replay_deployment <id> [--fast]`` plays every remaining day at once (``replay_run``). When the last
day is done the deployment stops, its positions left in the paper book.

A replay should own its paper account: its past-dated orders and matching would meet any other
order of that account (the demo opens one for it: ``demo_replay_ensure``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from core import clock
from core.audit import Actor
from core.errors import ApplicationError
from marketdata.calendars import KRX, SEOUL
from trading.brokers.base import Quote
from trading.live.models import Deployment, DeploymentDay, DeploymentState, DeploymentTiming
from trading.paper.prices import scoped_quote_source

logger = logging.getLogger("trading.live")

REPLAYER = Actor.system("replay")
DEFAULT_SECONDS_PER_DAY = 6.0
MAX_PACE_SECONDS = 60.0  # a task is never scheduled further ahead (see trading.orders.tasks)
QUOTE_HISTORY_DAYS = 20  # calendar days before the window read for the first day's previous close
# the replayed moments of a day, from its session's open and close (a late open moves them all)
PRE_OPEN, OPEN, CLOSE_AUCTION, AFTER_CLOSE, SUMMARY = "pre_open", "open", "close_auction", "after_close", "summary"
MOMENTS = {PRE_OPEN: ("open", dt.timedelta(minutes=-20)), OPEN: ("open", dt.timedelta(seconds=1)),
           CLOSE_AUCTION: ("close", dt.timedelta(minutes=-10)), AFTER_CLOSE: ("close", dt.timedelta(seconds=1)),
           SUMMARY: ("close", dt.timedelta(minutes=10))}


def seconds_per_day() -> float:
    """Seconds of real time one replayed day takes in the paced replay (``REPLAY_SECONDS_PER_DAY``)."""
    return min(float(getattr(settings, "REPLAY_SECONDS_PER_DAY", DEFAULT_SECONDS_PER_DAY)), MAX_PACE_SECONDS)


# -- prices ----------------------------------------------------------------------------------------
class ReplayQuotes:
    """The replayed moment's price of each symbol from the stored daily bars (module docstring): a
    quote source (``symbol -> Quote``) for ``scoped_quote_source``. Reads the bars once."""

    def __init__(self, symbols: list[str], start: dt.date, end: dt.date) -> None:
        from marketdata.selectors import instrument_bars

        self.bars: dict[str, dict[dt.date, tuple[Decimal, Decimal]]] = {}
        for symbol in symbols:
            bars = instrument_bars(code=symbol, start=start - dt.timedelta(days=QUOTE_HISTORY_DAYS), end=end)
            days = bars.date.astype("datetime64[D]").astype(dt.date)
            self.bars[symbol] = {day: (_price(o), _price(c)) for day, o, c in zip(days, bars.open, bars.close,
                                                                                  strict=True)}
        self.days = {symbol: sorted(rows) for symbol, rows in self.bars.items()}

    def price_at(self, symbol: str, now: dt.datetime) -> tuple[Decimal, Decimal | None, Decimal | None] | None:
        """(price, the day's open, the previous close) of ``symbol`` at ``now``; None without a bar."""
        rows = self.bars.get(symbol)
        if not rows:
            return None
        local = now.astimezone(SEOUL)
        today = local.date()
        before = [day for day in self.days[symbol] if day < today]
        previous = rows[before[-1]][1] if before else None
        if today not in rows:
            return (previous, None, previous) if previous is not None else None
        opening, closing = rows[today]
        if KRX.is_trading_day(today) and local >= KRX.session(today).close - dt.timedelta(minutes=10):
            return closing, opening, previous
        return opening, opening, previous

    def __call__(self, symbol: str) -> Quote | None:
        found = self.price_at(symbol, clock.now())
        if found is None:
            return None
        price, opening, previous = found
        return Quote(symbol=symbol, price=price, open=opening, previous_close=previous)


def _price(value: float) -> Decimal:
    """A bar's float price as a plain Decimal (71300.0 → 71300, never 7.13E+4)."""
    number = Decimal(repr(float(value)))
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


@contextmanager
def replayed(at: dt.datetime, quotes: ReplayQuotes) -> Iterator[None]:
    """This context's clock stopped at ``at`` and its prices from ``quotes``; nobody else's."""
    with clock.scoped(at), scoped_quote_source(quotes):
        yield


def _at(day: dt.date, moment: str) -> dt.datetime:
    """The replayed instant of ``moment`` on the trading day ``day`` (KRX session times)."""
    anchor, offset = MOMENTS[moment]
    session = KRX.session(day)
    return (session.open if anchor == "open" else session.close) + offset


# -- the days ------------------------------------------------------------------------------------
def replay_window(deployment: Deployment) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the replay; the last is the newest stored bar of its symbols when
    ``replay_end`` is empty. Raises ``ApplicationError`` for a deployment that is no replay."""
    if not deployment.replay or deployment.replay_start is None:
        raise ApplicationError(_("This deployment is not a replay."), code="not_a_replay")
    if deployment.replay_end is not None:
        return deployment.replay_start, deployment.replay_end
    from marketdata.selectors import instrument_coverage

    lasts = [found.last for found in (instrument_coverage(code=code) for code in deployment.symbols) if found]
    return deployment.replay_start, max(lasts) if lasts else deployment.replay_start


def replay_days(deployment: Deployment) -> list[dt.date]:
    """The KRX trading days of the replay window."""
    start, end = replay_window(deployment)
    return KRX.trading_days(start, end) if start <= end else []


def days_done(deployment: Deployment) -> set[dt.date]:
    """The replay days with a summary (a summary of another date, written by the platform's own
    after-close task, is no replayed day)."""
    start, end = replay_window(deployment)
    return set(DeploymentDay.objects.filter(deployment=deployment, day__gte=start, day__lte=end)
               .values_list("day", flat=True))


def next_replay_day(deployment: Deployment) -> dt.date | None:
    """The first replay day after the last one done; None when the replay is over."""
    done = days_done(deployment)
    last = max(done) if done else None
    for day in replay_days(deployment):
        if last is None or day > last:
            return day
    return None


@dataclass
class ReplayedDay:
    """What one replayed day did (for the command's output and the tests)."""

    day: dt.date
    orders: int = 0
    fills: int = 0


def _send_new_orders(deployment: Deployment) -> int:
    """Send the deployment's orders still ``new`` now, at the replayed time (module docstring)."""
    from trading.orders.models import Order
    from trading.orders.services import order_submit

    waiting = (Order.objects.filter(deployment_signals__deployment=deployment, state="new")
               .order_by("pk").values_list("pk", flat=True).distinct())
    sent = 0
    for order_id in list(waiting):
        if order_submit(order_id=order_id) is not None:
            sent += 1
    return sent


def _match_and_book(deployment: Deployment, now: dt.datetime, *, sent: int = 0) -> int:
    """Fill the replay account's resting orders at ``now`` and carry the fills (and those its
    ``sent`` orders made on arrival) into the ledger."""
    from trading.orders.reconcile import account_reconcile
    from trading.paper.matching import paper_match_account
    from trading.paper.models import PaperOrder, PaperOrderStatus

    resting = PaperOrder.objects.filter(book__account_id=deployment.account_id, status=PaperOrderStatus.OPEN)
    if not sent and not resting.exists():
        return 0  # nothing rests and nothing arrived: nothing to fill, expire or carry into the ledger
    fills = paper_match_account(account_id=deployment.account_id, now=now)
    account_reconcile(account=deployment.account)
    return len(fills)


def _decide(deployment: Deployment, now: dt.datetime) -> None:
    """The runner's decision for this deployment alone at its slot open at ``now`` (once per slot),
    then its sending (``guard_and_send``: the signals decided today up to ``now``, which on a
    replayed past day are the replay's)."""
    from trading.live import runner

    deployment.refresh_from_db()
    slot = runner.slot_at(timing=deployment.timing, interval_minutes=deployment.interval_minutes, now=now,
                          calendar=KRX)
    if slot is None or (deployment.last_decision_at is not None and deployment.last_decision_at >= slot.at):
        return
    runner.decide_slot(slot, [deployment])
    runner.guard_and_send(now=now)


def _place_waiting(deployment: Deployment, now: dt.datetime) -> None:
    from trading.live import runner

    runner.place_waiting(now=now)


def _summarize(deployment: Deployment, day: dt.date, now: dt.datetime) -> None:
    """The day's ``DeploymentDay`` (the runner's summary: the bucket at the day's close)."""
    from trading.live.summary import deployment_day_write

    deployment_day_write(deployment=deployment, day=day, now=now)


def replay_day(deployment: Deployment, day: dt.date, *, quotes: ReplayQuotes | None = None) -> ReplayedDay:
    """Replay one trading day of ``deployment`` (module docstring); safe to run again."""
    start, end = replay_window(deployment)
    quotes = quotes or ReplayQuotes(list(deployment.symbols), start, end)
    done = ReplayedDay(day)
    at_close = deployment.timing == DeploymentTiming.CLOSE
    with replayed(_at(day, PRE_OPEN), quotes):
        if not at_close:
            _decide(deployment, clock.now())
            done.orders += _send_new_orders(deployment)
    with replayed(_at(day, OPEN), quotes):
        done.fills += _match_and_book(deployment, clock.now())
        if not at_close:
            _place_waiting(deployment, clock.now())
            sent = _send_new_orders(deployment)
            done.orders += sent
            done.fills += _match_and_book(deployment, clock.now(), sent=sent)
    with replayed(_at(day, CLOSE_AUCTION), quotes):
        if at_close:
            _decide(deployment, clock.now())
            done.orders += _send_new_orders(deployment)
    with replayed(_at(day, AFTER_CLOSE), quotes):
        # the closing auction fills; a close deployment's buys waiting for its sells' cash find the
        # market closed once the sells filled: they stay waiting (the drift report says so)
        done.fills += _match_and_book(deployment, clock.now())
    with replayed(_at(day, SUMMARY), quotes):
        _summarize(deployment, day, clock.now())
    _announce(deployment, done)
    return done


def _announce(deployment: Deployment, done: ReplayedDay) -> None:
    """``deployment.replay_day`` to the owner: the page moves its replay clock and refreshes."""
    from core import events

    summary = DeploymentDay.objects.filter(deployment=deployment, day=done.day).first()
    events.publish(user_id=deployment.owner_id, event="deployment.replay_day", payload={
        "id": deployment.pk, "day": done.day.isoformat(), "orders": done.orders, "fills": done.fills,
        "equity": str(summary.equity) if summary else None, "pnl": str(summary.pnl) if summary else None})


def _finish(deployment: Deployment) -> Deployment:
    """The last day is done: the deployment stops (positions stay in its paper book)."""
    from trading.live.services import deployment_stop

    deployment.refresh_from_db()
    if deployment.state == DeploymentState.STOPPED:
        return deployment
    days = replay_days(deployment)
    last = days[-1] if days else KRX.previous_trading_day(replay_window(deployment)[1])
    with replayed(_at(last, SUMMARY), ReplayQuotes([], last, last)):
        return deployment_stop(actor=REPLAYER, deployment=deployment)


def replay_advance(*, deployment: Deployment, quotes: ReplayQuotes | None = None) -> ReplayedDay | None:
    """Replay the next day of a running replay; None when there is nothing to do (over, or the
    deployment is not running: a paused replay waits). Stops the deployment after its last day."""
    deployment = Deployment.objects.select_related("account", "owner").get(pk=deployment.pk)
    if not deployment.replay or deployment.state != DeploymentState.RUNNING:
        return None
    day = next_replay_day(deployment)
    if day is None:
        _finish(deployment)
        return None
    done = replay_day(deployment, day, quotes=quotes)
    if next_replay_day(deployment) is None:
        _finish(deployment)
    return done


def replay_run(*, deployment: Deployment) -> list[ReplayedDay]:
    """Every remaining day at once (``replay_deployment --fast``, tests). A paced chain of this
    replay stops at its next step (this run takes the replay over)."""
    cache.set(_chain_key(deployment.pk), f"fast-{uuid.uuid4().hex}", CHAIN_SECONDS)
    start, end = replay_window(deployment)
    quotes = ReplayQuotes(list(deployment.symbols), start, end)
    days = []
    while (done := replay_advance(deployment=deployment, quotes=quotes)) is not None:
        days.append(done)
    return days


def replay_begin(*, actor: Actor, deployment: Deployment, paced: bool = True) -> Deployment:
    """Start a replay deployment (the go-live rules of ``deployment_start``, at its first day's
    morning), which starts its paced replay (``replay_enqueue``); an already running one is paced
    again when ``paced``. Raises ``ApplicationError`` for a deployment that is no paper replay."""
    from trading.live.services import deployment_start

    days = replay_days(deployment)
    if not days:
        raise ApplicationError(_("The replay's dates hold no trading day."), field="replay_start",
                               code="replay_empty")
    if not deployment.account.is_paper:
        raise ApplicationError(_("A replay runs only on a paper account."), field="account",
                               code="replay_paper_only")
    if deployment.timing == DeploymentTiming.INTERVAL:
        raise ApplicationError(_("A replay acts at the open or at the close: daily bars know nothing in between."),
                               field="timing", code="replay_timing")
    if deployment.state != DeploymentState.RUNNING:
        with replayed(_at(days[0], PRE_OPEN) - dt.timedelta(minutes=30), ReplayQuotes([], days[0], days[0])):
            return deployment_start(actor=actor, deployment=deployment)
    if paced:
        replay_enqueue(deployment.pk)
    return deployment


# -- the demo ------------------------------------------------------------------------------------
DEMO_DAYS = 20  # about a month of trading days
DEMO_MIN_TRADES = 3  # a demo that trades: buys and sells to watch
DEMO_CAPITAL = Decimal(10_000_000)
DEMO_ACCOUNT_CASH = 30_000_000  # room above the bucket: market buys are held at the upper price limit


def demo_replay_ensure(*, user: Any) -> Deployment | None:
    """The demo investor's replay (``seed_demo``): a draft paper deployment of their first strategy,
    on a paper account of its own, over the last month of the sample bars of its symbols in which
    it trades (``_demo_window``); starting it (the deployment page) plays it. The existing one when
    there is one; None without a strategy or bars. The plan's symbol limit trims the universe."""
    from coupons.selectors import plan_limits
    from marketdata.selectors import instrument_coverage
    from trading.live.services import deployment_create
    from trading.services import broker_account_open_paper

    found = Deployment.objects.filter(owner=user, replay=True).order_by("pk").first()
    strategy = user.strategies.order_by("created_at", "pk").first()
    if found is not None or strategy is None:
        return found
    covered = {code: coverage for code in strategy.universe_codes()
               if (coverage := instrument_coverage(code=code)) is not None}
    codes = sorted(covered)[:plan_limits(user=user).max_symbols_per_deployment]
    if not codes:
        return None
    days = _demo_window(strategy, codes, min(covered[code].last for code in codes))
    if not days:
        return None
    actor = Actor.system("demo")
    with translation.override(settings.LANGUAGE_CODE), transaction.atomic():  # the site's language
        account = broker_account_open_paper(actor=actor, owner=user, nickname=_("Replay (paper)"),
                                            cash=DEMO_ACCOUNT_CASH)
        return deployment_create(actor=actor, strategy=strategy, account=account,
                                 name=_("{strategy} – replay").format(strategy=strategy.name)[:100],
                                 capital=DEMO_CAPITAL, symbols=codes, replay=True, replay_start=days[0],
                                 replay_end=days[-1])


def _demo_window(strategy: Any, codes: list[str], end: dt.date) -> list[dt.date]:
    """The last ``DEMO_DAYS`` trading days up to ``end`` in which the strategy trades at least
    ``DEMO_MIN_TRADES`` times (the engine on the same bars, as the drift report runs it), looking a
    week further back each time, up to a year; else simply the last ``DEMO_DAYS``."""
    from trading.live.drift import engine_run

    calendar = KRX.trading_days(end - dt.timedelta(days=400), end)
    probe = Deployment(symbols=codes, strategy_type=strategy.strategy_type, params=dict(strategy.params),
                       risk=strategy.engine_options(), capital=DEMO_CAPITAL, timing=DeploymentTiming.OPEN)
    last = len(calendar)
    while last >= DEMO_DAYS:
        days = calendar[last - DEMO_DAYS:last]
        found = engine_run(probe, days[0], days[-1])
        if found is not None and len(found.legs) >= DEMO_MIN_TRADES:
            return days
        last -= 5
    return calendar[-DEMO_DAYS:]


# -- the paced replay: one Celery chain per replay ------------------------------------------------
CHAIN_SECONDS = 24 * 3600  # a chain's token outlives any replay
LOCK_SECONDS = 120  # one day's step at most


def _chain_key(deployment_id: int) -> str:
    return f"replay:chain:{deployment_id}"


def replay_enqueue(deployment_id: int) -> None:
    """Play the replay one day every ``REPLAY_SECONDS_PER_DAY`` seconds from now (on commit): a new
    chain of ``replay_step``, which any older chain of the same replay gives way to. Called when a
    replay deployment starts or resumes (``trading.live.services``)."""
    token = uuid.uuid4().hex
    cache.set(_chain_key(deployment_id), token, CHAIN_SECONDS)
    transaction.on_commit(lambda: _enqueue(deployment_id, token, countdown=0))


def _enqueue(deployment_id: int, token: str, *, countdown: float) -> None:
    try:
        replay_step.apply_async((deployment_id, token), countdown=countdown)
    except Exception:  # noqa: BLE001 - the broker is down: the replay waits for a new start
        logger.warning("replay of deployment %s: enqueue failed", deployment_id, exc_info=True)


@shared_task(name="trading.live.replay_step", acks_late=True, soft_time_limit=LOCK_SECONDS - 20,
             time_limit=LOCK_SECONDS)
def replay_step(deployment_id: int, token: str = "") -> str | None:
    """One replayed day, then this task again ``REPLAY_SECONDS_PER_DAY`` later until the last day.
    A step of an older chain (its token replaced) ends the chain; one that finds another step
    playing waits a turn."""
    current = cache.get(_chain_key(deployment_id))
    if token and current is not None and current != token:
        return None
    deployment = Deployment.objects.filter(pk=deployment_id, replay=True).first()
    if deployment is None:
        return None
    lock = f"replay:playing:{deployment_id}"
    if not cache.add(lock, token or "step", LOCK_SECONDS):
        _enqueue(deployment_id, token, countdown=seconds_per_day())
        return None
    try:
        done = replay_advance(deployment=deployment)
    finally:
        cache.delete(lock)
    if done is None:
        return None
    if next_replay_day(deployment) is not None:
        _enqueue(deployment_id, token, countdown=seconds_per_day())
    return done.day.isoformat()


__all__ = ["REPLAYER", "ReplayQuotes", "ReplayedDay", "demo_replay_ensure", "next_replay_day", "replay_advance",
           "replay_begin", "replay_day", "replay_days", "replay_enqueue", "replay_run", "replay_step", "replay_window",
           "replayed"]
