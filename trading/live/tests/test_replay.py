"""Replay: a paper deployment replayed over a simulated month equals the backtest engine trade for trade.

The engine here is the backtests' own pipeline (``panel_from_store`` + ``run_strategy``) on the same
bars, the deployment's parameters and capital, one shared account, next-open fills and the paper
broker's commission. The bars start 8 trading days before the month, so the 3/8 SMA cross can
first signal on the month's first day in both (no masking needed to compare).

Rounding: fill prices are bar prices on the tick grid, equal exactly. Cash is not: the paper book
truncates commission and sell tax to whole won (원 미만 절사), the engine keeps float fractions, so
the deployment's cash may be up to 1 KRW per truncated cost higher (a buy's commission, a sell's
commission and tax) than the engine's: the tolerance below, never more.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from backtests.engine import EngineConfig
from backtests.engine.costs import Costs
from backtests.pipeline import panel_from_store, run_strategy
from core import clock, events
from core.audit import Actor
from marketdata.calendars import KRX, SEOUL
from marketdata.selectors import bar_store
from trading.live import replay, services
from trading.live.drift import drift_report
from trading.live.models import DeploymentDay, DeploymentState
from trading.orders import tasks as order_tasks
from trading.orders.models import Fill, Order
from trading.paper.models import PaperOrder

from .replay_scenario import MONTH, PARAMS, SYMBOLS, bars_from, month_deployment, record_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs(monkeypatch) -> list[tuple]:
    return record_jobs(monkeypatch)


def engine_trades(deployment, first: dt.date):
    panel, markets = panel_from_store(bar_store(), list(SYMBOLS), first, MONTH[1])
    options = dict(deployment.risk)
    config = EngineConfig(cash=float(deployment.capital), costs=Costs(commission=0.00015), fill="next_open",
                          accounts="shared", **options)
    result = run_strategy(panel, strategy_type="sma_cross", params=PARAMS, config=config, markets=markets)
    days = panel.dates.astype(dt.date)
    table = result.trade_table
    legs = []
    for i in range(len(table)):
        symbol, quantity = panel.symbols[table.symbol[i]], Decimal(int(table.shares[i]))
        legs.append((days[table.entry_bar[i]], symbol, "buy", quantity, Decimal(repr(float(table.entry_price[i])))))
        if table.exit_bar[i] >= 0:
            legs.append((days[table.exit_bar[i]], symbol, "sell", quantity, Decimal(repr(float(table.exit_price[i])))))
    return sorted(legs), dict(zip(days, result.cash, strict=True))


def filled(deployment):
    rows = Fill.objects.filter(order__deployment_signals__deployment=deployment)
    return sorted((fill.filled_at.astimezone(SEOUL).date(), fill.symbol, fill.side, fill.quantity, fill.price)
                  for fill in rows)


def test_a_replayed_paper_month_equals_the_engine_trade_for_trade(user, django_capture_on_commit_callbacks,
                                                                  monkeypatch):
    first = bars_from(8)
    deployment = month_deployment(user, history_from=first)
    wall_clock_before = clock.now()
    delivered: list[events.Event] = []
    monkeypatch.setattr(events, "deliver", delivered.append)

    with django_capture_on_commit_callbacks(execute=True):
        deployment = replay.replay_begin(actor=Actor.of_user(user), deployment=deployment, paced=False)
        days = replay.replay_run(deployment=deployment)

    assert [done.day for done in days] == KRX.trading_days(*MONTH) and len(days) == 20
    engine, engine_cash = engine_trades(deployment, first)
    live = filled(deployment)
    assert {side for _, _, side, _, _ in engine} == {"buy", "sell"} and len(engine) >= 5
    assert live == engine  # same days, symbols, sides, quantities and prices (the day's open)
    sides = {(day, side) for day, _, side, _, _ in live}
    for summary in DeploymentDay.objects.filter(deployment=deployment):
        truncated = sum(1 if side == "buy" else 2 for day, side in sides if day <= summary.day)
        assert 0 <= summary.cash - Decimal(repr(float(engine_cash[summary.day]))) < max(truncated, 1)
    assert drift_report(deployment).totals.agrees
    deployment.refresh_from_db()
    assert deployment.state == DeploymentState.STOPPED
    # the user watched it happen: orders filled and a summary per replayed day, at replayed times
    names = [event.name for event in delivered]
    assert names.count("deployment.replay_day") == 20 and names.count("order.filled") == len(live)
    assert {order.order_day for order in Order.objects.all()} <= set(KRX.trading_days(*MONTH))
    # nobody else's time moved
    assert abs((clock.now() - wall_clock_before).total_seconds()) < 60


def test_starting_a_replay_paces_it_and_each_step_plays_one_day_once(user, django_capture_on_commit_callbacks,
                                                                       monkeypatch):
    deployment = month_deployment(user, history_from=bars_from(8))
    steps: list[tuple] = []
    monkeypatch.setattr(replay.replay_step, "apply_async", lambda args, countdown: steps.append((args, countdown)))
    with django_capture_on_commit_callbacks(execute=True):  # the page's start button: the services' start
        deployment = services.deployment_start(actor=Actor.of_user(user), deployment=deployment)
    [((deployment_id, token), countdown)] = steps
    assert deployment_id == deployment.pk and countdown == 0

    played = [replay.replay_step(deployment.pk, token) for _ in range(9)]
    assert played[0] == MONTH[0].isoformat() and len(set(played)) == 9
    assert [countdown for _, countdown in steps[1:]] == [replay.seconds_per_day()] * 9  # and again, paced
    orders = PaperOrder.objects.count()
    assert orders >= 1  # the first crossings traded by the 9th day
    day = dt.date.fromisoformat(played[-1])
    replay.replay_day(deployment, day)  # the same day again (a duplicate message)
    assert PaperOrder.objects.count() == orders
    assert replay.next_replay_day(deployment) == KRX.next_trading_day(day)
    with django_capture_on_commit_callbacks(execute=True):
        replay.replay_enqueue(deployment.pk)  # started again: the older chain gives way
    assert replay.replay_step(deployment.pk, token) is None
    assert replay.next_replay_day(deployment) == KRX.next_trading_day(day)


def test_the_replayed_time_and_prices_stay_in_their_own_context(user):
    """A replay moves this context's clock and prices only: another thread keeps the platform's."""
    import threading

    from trading.paper.prices import quote_source

    deployment = month_deployment(user, history_from=bars_from(8))
    quotes = replay.ReplayQuotes(list(deployment.symbols), *MONTH)
    seen: dict[str, object] = {}
    at = dt.datetime(2026, 4, 8, 8, 40, tzinfo=SEOUL)
    with replay.replayed(at, quotes):
        other = threading.Thread(target=lambda: seen.update(now=clock.now(), source=quote_source()))
        other.start()
        other.join()
        here = clock.now()
        pre_open = quotes(SYMBOLS[0])
    with replay.replayed(at.replace(hour=15, minute=25), quotes):
        closing = quotes(SYMBOLS[0])
    assert here == at and seen["now"] != at and seen["source"] is not quotes
    # before the open the day's open (the auction's price), from the closing auction its close
    day_open, day_close = quotes.bars[SYMBOLS[0]][at.date()]
    previous = quotes.bars[SYMBOLS[0]][KRX.previous_trading_day(at.date())][1]
    assert (pre_open.price, pre_open.previous_close) == (day_open, previous)
    assert (closing.price, closing.previous_close) == (day_close, previous)


def test_no_submit_job_leaves_a_replay_a_worker_would_send_at_the_platforms_time(monkeypatch):
    from trading.orders.services import enqueue_submit

    enqueued: list[tuple] = []
    monkeypatch.setattr(order_tasks.order_submit, "delay", lambda *args: enqueued.append(args))
    with clock.scoped(dt.datetime(2026, 4, 8, 8, 40, tzinfo=SEOUL)):
        enqueue_submit(7)  # the replay sends order 7 itself, at 08:40 of that day
    enqueue_submit(8)
    assert enqueued == [(8,)]


def test_the_demo_investor_gets_a_replay_of_their_first_strategy_over_a_month_that_trades(user):
    from coupons.tests.helpers import free_limits
    from marketdata.tests.factories import InstrumentFactory
    from strategies.tests.factories import StrategyFactory
    from trading.live.drift import engine_run

    from .replay_scenario import write_bars

    free_limits(max_symbols_per_deployment=5)
    for code in SYMBOLS:
        InstrumentFactory(code=code)
    write_bars()
    strategy = StrategyFactory(owner=user, codes=list(SYMBOLS), params=dict(PARAMS))

    deployment = replay.demo_replay_ensure(user=user)
    assert replay.demo_replay_ensure(user=user) == deployment  # seeding again changes nothing
    assert (deployment.replay, deployment.state, deployment.strategy, deployment.account.is_paper) == (
        True, DeploymentState.DRAFT, strategy, True)
    days = KRX.trading_days(deployment.replay_start, deployment.replay_end)
    assert len(days) == replay.DEMO_DAYS
    assert len(engine_run(deployment, days[0], days[-1]).legs) >= replay.DEMO_MIN_TRADES


def test_a_replay_acting_at_the_close_fills_in_the_closing_auction_at_the_days_close(user):
    from strategies.models import Sizing

    deployment = month_deployment(user, timing="close", history_from=bars_from(8))
    strategy = deployment.strategy
    strategy.sizing, strategy.sizing_value = Sizing.FIXED_KRW, Decimal(3_000_000)
    strategy.save()
    deployment.replay_end = dt.date(2026, 4, 17)
    deployment.save(update_fields=["replay_end"])
    deployment = replay.replay_begin(actor=Actor.of_user(user), deployment=deployment, paced=False)
    assert list(deployment.risk["sizing"]) == ["fixed_krw", 3_000_000.0]

    replay.replay_run(deployment=deployment)

    report = drift_report(deployment)
    assert report.fill == "close" and report.totals.agrees and report.totals.matched >= 3
    assert {row.side for row in report.rows} == {"buy", "sell"}
    closes = replay.ReplayQuotes(list(SYMBOLS), *MONTH).bars
    for fill in Fill.objects.all():
        day = fill.filled_at.astimezone(SEOUL)
        assert (day.hour, day.minute) == (15, 30) and fill.price == closes[fill.symbol][day.date()][1]


def test_a_replayed_day_never_fills_or_expires_another_accounts_orders(user, other_user):
    from trading.brokers.base import OrderRequest, Side
    from trading.paper.client import PaperClient
    from trading.paper.models import PaperOrderStatus
    from trading.services import broker_account_open_paper

    deployment = month_deployment(user, history_from=bars_from(8))
    deployment = replay.replay_begin(actor=Actor.of_user(user), deployment=deployment, paced=False)
    bob = broker_account_open_paper(actor=Actor.of_user(other_user), owner=other_user, nickname="밥", cash=5_000_000)
    with clock.scoped(dt.datetime(2026, 3, 31, 10, 0, tzinfo=SEOUL)):  # bob's own order of another day
        PaperClient(bob).place_order(OrderRequest(SYMBOLS[0], Side.BUY, Decimal(1), price=Decimal(8_000)))

    for day in KRX.trading_days(MONTH[0], dt.date(2026, 4, 13)):  # opens, closes: fills and expiry times
        replay.replay_day(deployment, day)

    assert PaperOrder.objects.filter(book__account=deployment.account).exists()  # the replay traded
    [resting] = PaperOrder.objects.filter(book__account=bob)
    assert (resting.status, resting.filled_quantity) == (PaperOrderStatus.OPEN, 0)


def test_a_replays_holdings_are_valued_at_its_last_replayed_close_not_todays(user, django_capture_on_commit_callbacks):
    from marketdata.selectors import instrument_bars
    from trading.live.overview import holdings_of

    deployment = month_deployment(user, history_from=bars_from(8))
    with django_capture_on_commit_callbacks(execute=True):
        deployment = replay.replay_begin(actor=Actor.of_user(user), deployment=deployment, paced=False)
        while not Fill.objects.exists():
            replay.replay_advance(deployment=deployment)
        done = replay.replay_advance(deployment=deployment)  # a day later (its close is not the newest bar's)
    held = holdings_of(user=user, deployments=[deployment], now=clock.now())[deployment.pk]
    row = held.rows[0]
    bars = instrument_bars(code=row.symbol)
    closes = dict(zip(bars.date.astype("datetime64[D]").astype(object), bars.close, strict=True))
    assert row.last == Decimal(repr(float(closes[done.day])))  # not the newest bar's close
    assert closes[done.day] != bars.close[-1]
    assert held.market_value == sum(r.position.quantity * r.last for r in held.rows)
