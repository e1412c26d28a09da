"""The runner: slots by the KRX calendar, decisions on the bar store with the backtests' signals and
the engine's sizing, idempotent signal rows, the guard's one-owner rule, stale data, kill switches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.utils import translation

from core import clock
from core.audit import Actor
from marketdata.calendars import SEOUL, calendar_for
from marketdata.selectors import bar_store
from marketdata.tests.factories import InstrumentFactory
from trading.live import runner, services
from trading.live.exits import Held, risk_exit
from trading.live.models import DeploymentSignal, DeploymentTiming, SignalOutcome, Verdict
from trading.live.sizing import buy_quantity
from trading.orders.models import Order, OrderSource

pytestmark = pytest.mark.django_db
KRX = calendar_for("KRX")
THURSDAY = dt.date(2026, 3, 12)
# sma_cross(fast=1, slow=2) enters when a close rises after a fall: A rises on its last bar, B falls
RISING = [10_000, 9_500, 9_000, 9_500]
FALLING = [20_000, 19_000, 18_000, 17_000]
A, B = "005930", "000660"


def seoul(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), SEOUL)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """Stop the trading clock (which ``order_place`` reads) at that Seoul time; returns it."""
    when = seoul(day, hour, minute)
    clock.set_to(when, tick=False)
    return when


def write_bars(code: str, closes: list[float], last_day: dt.date, *, opens: list[float] | None = None) -> None:
    """Daily bars of ``code`` on the trading days ending ``last_day`` (open = ``opens`` or the close)."""
    days = [last_day]
    while len(days) < len(closes):
        days.insert(0, KRX.previous_trading_day(days[0]))
    opens = opens or closes
    bar_store().write(code, "KOSPI", date=[d.isoformat() for d in days], open=opens,
                      high=[max(o, c) for o, c in zip(opens, closes, strict=True)],
                      low=[min(o, c) for o, c in zip(opens, closes, strict=True)], close=closes,
                      volume=[1_000_000] * len(closes))


def make_world(user, *, capital: int = 5_000_000, cash: int = 10_000_000, last_day: dt.date = THURSDAY,
               timing: str = DeploymentTiming.OPEN, **strategy):
    """alice's paper account, A and B with bars up to ``last_day``'s previous trading day, and a
    running deployment of an sma_cross(1, 2) equal-weight strategy on both."""
    from coupons.tests.helpers import free_limits
    from strategies.tests.factories import StrategyFactory
    from trading.paper.tests.conftest import open_paper_account

    free_limits(max_running_deployments=5, max_symbols_per_deployment=10)
    InstrumentFactory(code=A, name="삼성전자")
    InstrumentFactory(code=B, name="SK하이닉스")
    bar_day = KRX.previous_trading_day(last_day)
    write_bars(A, RISING, bar_day)
    write_bars(B, FALLING, bar_day)
    account = open_paper_account(user, cash=cash)
    options = {"strategy_type": "sma_cross", "params": {"fast": 1, "slow": 2}, **strategy}
    strat = StrategyFactory(owner=user, codes=[A, B], **options)
    return account, start(user, strat, account, capital=capital, timing=timing)


def start(user, strat, account, *, capital: int, timing: str = DeploymentTiming.OPEN, name: str = "",
          interval_minutes: int | None = None):
    actor = Actor.of_user(user)
    deployment = services.deployment_create(actor=actor, strategy=strat, account=account, name=name or strat.name,
                                            capital=Decimal(capital), timing=timing, interval_minutes=interval_minutes)
    return services.deployment_start(actor=actor, deployment=deployment)


@pytest.fixture(autouse=True)
def _bars_only_english(settings, monkeypatch):
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    settings.MARKET_DATA_KIS_APP_KEY = settings.PAPER_QUOTE_SOURCE = ""
    with translation.override("en"):
        yield
    clock.reset()


def test_slots_follow_the_krx_calendar():
    normal = runner.slot_at(timing="open", interval_minutes=None, now=seoul(THURSDAY, 8, 31), calendar=KRX)
    assert (normal.at, normal.until, normal.bar_end) == (seoul(THURSDAY, 8, 30), seoul(THURSDAY, 9),
                                                         dt.date(2026, 3, 11))
    assert runner.slot_at(timing="open", interval_minutes=None, now=seoul(THURSDAY, 8, 29), calendar=KRX) is None
    assert runner.slot_at(timing="open", interval_minutes=None, now=seoul(THURSDAY, 9, 1), calendar=KRX) is None
    holiday = seoul(dt.date(2026, 3, 2), 8, 40)  # substitute holiday for 삼일절
    assert runner.slot_at(timing="open", interval_minutes=None, now=holiday, calendar=KRX) is None
    first_day = dt.date(2026, 1, 2)  # the year's first session opens at 10:00: its auction at 09:30
    late = runner.slot_at(timing="open", interval_minutes=None, now=seoul(first_day, 9, 40), calendar=KRX)
    assert late.at == seoul(first_day, 9, 30) and late.bar_end == dt.date(2025, 12, 30)
    close = runner.slot_at(timing="close", interval_minutes=None, now=seoul(THURSDAY, 15, 25), calendar=KRX)
    assert close.at == seoul(THURSDAY, 15, 20) and close.provisional
    every = runner.slot_at(timing="interval", interval_minutes=30, now=seoul(THURSDAY, 10, 44), calendar=KRX)
    assert (every.at, every.until) == (seoul(THURSDAY, 10, 30), seoul(THURSDAY, 11))
    saturday = dt.date(2026, 3, 14)  # crypto trades every day: its open is midnight, on Friday's bar
    crypto = runner.slot_at(timing="open", interval_minutes=None, now=seoul(saturday, 0, 10),
                            calendar=calendar_for("CRYPTO"))
    assert (crypto.at, crypto.bar_end) == (seoul(saturday, 0), dt.date(2026, 3, 13))
    assert runner.slot_at(timing="open", interval_minutes=None, now=seoul(saturday, 8, 30), calendar=KRX) is None


def test_the_runner_buys_at_the_open_once_whatever_the_beats(user, monkeypatch):
    sent = []
    monkeypatch.setattr("trading.orders.services.enqueue_submit", sent.append)
    account, deployment = make_world(user)
    assert runner.run_due(now=at(THURSDAY, 8, 29)).intents == 0
    report = runner.run_due(now=at(THURSDAY, 8, 30))
    assert (report.deployments, report.intents, report.ordered) == (1, 1, 1)
    [signal] = DeploymentSignal.objects.filter(deployment=deployment)
    # equal weight: 5,000,000 / 2 symbols at the last close 9,500 with 0.015 % commission
    expected = buy_quantity(cash=5e6, equity=5e6, price=9_500, sizing="equal_weight", max_positions=None,
                            n_symbols=2)
    assert (signal.symbol, signal.side, signal.reason, signal.quantity) == (A, "buy", "entry", Decimal(263))
    assert expected == 263 and signal.bar_date == dt.date(2026, 3, 11)
    order = Order.objects.get()
    assert (order.intent_id, order.source, order.order_type, order.quantity) == (
        signal.intent_id, OrderSource.STRATEGY, "market", Decimal(263))
    # a duplicate beat, then a restart that lost the decision mark: the same row, the same order
    runner.run_due(now=at(THURSDAY, 8, 31))
    type(deployment).objects.filter(pk=deployment.pk).update(last_decision_at=None)
    DeploymentSignal.objects.filter(pk=signal.pk).update(outcome=SignalOutcome.PENDING, order=None)
    runner.run_due(now=at(THURSDAY, 8, 32))
    assert DeploymentSignal.objects.count() == 1 and Order.objects.count() == 1
    assert DeploymentSignal.objects.get().order == order


def test_a_signal_never_sent_on_its_day_is_not_sent_the_next(user, monkeypatch):
    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    make_world(user)
    runner.decide(now=at(THURSDAY, 8, 30))  # the workers died before sending
    runner.run_due(now=at(dt.date(2026, 3, 13), 8, 30))
    signal = DeploymentSignal.objects.get()
    assert signal.outcome == SignalOutcome.SKIPPED and "trading day ended" in signal.outcome_message
    assert not Order.objects.exists()


def test_stale_bars_are_refused_with_a_message_until_fresh_ones_arrive(user, monkeypatch):
    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    friday = dt.date(2026, 3, 13)  # the bars end Wednesday: Thursday's are missing
    account, deployment = make_world(user)
    report = runner.run_due(now=at(friday, 8, 35))
    deployment.refresh_from_db()
    assert report.stale == 1 and report.intents == 0 and deployment.last_decision_at is None
    assert "No fresh bars for 000660, 005930" in deployment.data_note and "2026-03-12" in deployment.data_note
    write_bars(A, RISING, THURSDAY)
    write_bars(B, FALLING, THURSDAY)
    report = runner.run_due(now=at(friday, 8, 40))
    deployment.refresh_from_db()
    assert report.intents == 1 and deployment.data_note == ""


def test_a_symbol_another_deployment_owns_is_blocked_with_its_name(user, monkeypatch):
    from strategies.tests.factories import StrategyFactory

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    account, first = make_world(user, capital=3_000_000)
    second = start(user, StrategyFactory(owner=user, codes=[A, B], strategy_type="sma_cross",
                                         params={"fast": 1, "slow": 2}), account, capital=3_000_000, name="second")
    runner.run_due(now=at(THURSDAY, 8, 30))
    mine = DeploymentSignal.objects.get(deployment=first)
    theirs = DeploymentSignal.objects.get(deployment=second)
    assert (mine.verdict, mine.outcome) == (Verdict.PASSED, SignalOutcome.ORDERED)
    assert (theirs.verdict, theirs.outcome, theirs.guard_code) == (Verdict.BLOCKED, SignalOutcome.BLOCKED,
                                                                   "symbol_owner")
    assert f"belongs to your deployment “{first.name}”" in theirs.guard_message
    assert Order.objects.count() == 1


def test_a_kill_switch_refuses_the_order_and_says_so(user, monkeypatch):
    from trading.killswitch import kill_switch_pull

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    account, deployment = make_world(user)
    kill_switch_pull(actor=Actor.of_user(user), scope="user", user=user, reason="holiday trip")
    report = runner.run_due(now=at(THURSDAY, 8, 30))
    signal = DeploymentSignal.objects.get()
    assert report.refused == 1 and signal.outcome == SignalOutcome.REFUSED and "kill switch" in signal.outcome_message
    assert not Order.objects.exists()


def test_sizing_equals_the_engines_shared_account():
    from backtests.engine import EngineConfig, Panel
    from backtests.pipeline import run_strategy

    close = np.array([[10_000, 9_500, 9_000, 9_500, 9_800.0], [20_000, 19_000, 18_000, 18_500, 18_000.0]])
    opens = close * 1.01
    days = np.arange(np.datetime64("2026-03-02"), np.datetime64("2026-03-07"))
    panel = Panel(open=opens, high=opens, low=close, close=close, volume=np.ones_like(close), dates=days,
                  symbols=[A, B])
    config = EngineConfig(cash=5_000_000.0, sizing=("pct_equity", 0.3))
    result = run_strategy(panel, strategy_type="sma_cross", params={"fast": 1, "slow": 2}, config=config)
    trades = result.arrays.trades
    symbol, bar = int(trades.symbol[0]), int(trades.entry_bar[0])
    ours = buy_quantity(cash=5e6, equity=5e6, price=float(opens[symbol, bar]), sizing=["pct_equity", 0.3],
                        max_positions=None, n_symbols=2)
    assert ours == trades.shares[0] > 0


def test_risk_rules_close_positions_at_the_latest_price():
    held = Held("X", 10, entry_price=10_000, peak=12_000, bars_held=2)
    assert risk_exit(held, 9_400, {"stop_loss": 0.05}) == "stop_loss"
    assert risk_exit(held, 9_600, {"stop_loss": 0.05}) is None
    assert risk_exit(held, 10_700, {"stop_loss": 0.05, "trailing_stop": 0.1}) == "trailing_stop"
    assert risk_exit(held, 11_000, {"take_profit": 0.1}) == "take_profit"
    assert risk_exit(held, 10_000, {"max_holding_days": 2}) == "max_holding"
    assert risk_exit(held, 10_000, {"max_holding_days": 3}) is None


def test_the_ingest_brings_fresh_bars_and_records_what_it_missed(user, monkeypatch):
    from marketdata.ingest import bars_ingest
    from marketdata.models import BarIngest
    from marketdata.providers.base import DataProvider, ProviderBars, ProviderError
    from marketdata.providers.chain import ProviderChain

    class Broker(DataProvider):
        name = "kis"

        def daily_bars(self, code, start, end):
            if code == B:
                raise ProviderError("no such symbol at the broker")
            day = np.array([np.datetime64(THURSDAY, "D")])
            one = np.array([9_900.0])
            return ProviderBars(date=day, open=one, high=one, low=one, close=one, volume=one, value=one * np.nan)

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    account, deployment = make_world(user)
    record = bars_ingest(day=THURSDAY, now=at(THURSDAY, 16, 10), chain=ProviderChain([Broker()], cache_seconds=0))
    assert BarIngest.objects.get() == record
    assert (record.symbols, record.updated, record.providers) == (2, 1, {A: "kis"})
    assert record.missing == {B: "kis: no such symbol at the broker"}
    # Friday's open: A is fresh, B is stale and named
    runner.run_due(now=at(dt.date(2026, 3, 13), 8, 30))
    deployment.refresh_from_db()
    assert deployment.last_decision_at is not None and "No fresh bars for 000660:" in deployment.data_note


def test_a_smaller_plan_pauses_the_newest_running_deployments(user):
    from coupons.lifecycle import over_limit_pause
    from coupons.tests.helpers import free_limits
    from strategies.tests.factories import StrategyFactory

    account, older = make_world(user, capital=1_000_000)
    newer = start(user, StrategyFactory(owner=user, codes=[A]), account, capital=1_000_000, name="newer")
    free_limits(max_running_deployments=1)
    over_limit_pause(user=user)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.state, newer.state, newer.state_code) == ("running", "paused", "plan_limit")


@pytest.fixture
def eager_celery():
    """Celery runs what is enqueued at once, in this process (the workers' part)."""
    from config.celery_app import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def test_the_tick_splits_a_crowded_open_into_batches_on_the_workers(user, monkeypatch, eager_celery):
    from strategies.tests.factories import StrategyFactory
    from trading.live import tasks

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    monkeypatch.setattr(tasks, "INLINE_MAX", 1)
    monkeypatch.setattr(tasks, "BATCH_SIZE", 1)
    monkeypatch.setattr(tasks, "INLINE_SEND", 1)
    monkeypatch.setattr(tasks, "SEND_BATCH", 1)
    account, first = make_world(user, capital=2_000_000)
    other = open_account(user)
    second = start(user, StrategyFactory(owner=user, codes=[A, B], strategy_type="sma_cross",
                                         params={"fast": 1, "slow": 2}), other, capital=2_000_000, name="second")
    at(THURSDAY, 8, 30)
    # two decide batches; the last one guards the slot and sends its two orders in two send batches
    assert tasks.runner_tick() == {"deployments": 0, "intents": 0, "batches": 2, "send_batches": 0}
    assert sorted(DeploymentSignal.objects.values_list("deployment_id", "outcome")) == [
        (first.pk, "ordered"), (second.pk, "ordered")]
    # an account's orders stay in one send batch (they are placed one after the other anyway)
    assert tasks.send_chunks([(1, 10), (2, 11), (3, 10), (4, 12)], 2) == [[1, 3], [2, 4]]


def open_account(user):
    from trading.paper.tests.conftest import open_paper_account

    return open_paper_account(user, cash=10_000_000, nickname="second book")


def fill_new_orders(account, when: dt.datetime) -> None:
    """The workers' part: new orders submitted to the paper book, matched at ``when``, reconciled."""
    from trading.orders import reconcile
    from trading.orders import services as orders
    from trading.paper.matching import paper_match_all

    for order in Order.objects.filter(state="new"):
        orders.order_submit(order_id=order.pk)
    paper_match_all(now=at(when.date(), when.hour, when.minute))
    reconcile.account_reconcile(account=account)


def test_a_sell_pays_for_the_buy_that_waits_for_its_cash(user, monkeypatch):
    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    friday = dt.date(2026, 3, 13)
    account, deployment = make_world(user, sizing="all_in")
    runner.run_due(now=at(THURSDAY, 8, 30))
    fill_new_orders(account, seoul(THURSDAY, 9))
    assert Order.objects.get(symbol=A).filled_quantity == 526  # all in at 9,500
    # Thursday: A falls (its exit), B rises (its entry): the buy needs the sale's cash
    write_bars(A, RISING + [9_000], THURSDAY)
    write_bars(B, FALLING + [17_500], THURSDAY)
    runner.run_due(now=at(friday, 8, 30))
    sell = DeploymentSignal.objects.get(side="sell")
    buy = DeploymentSignal.objects.get(symbol=B)
    assert (sell.reason, sell.outcome, sell.quantity) == ("exit", SignalOutcome.ORDERED, 526)
    assert buy.outcome == SignalOutcome.WAITING and buy.quantity == 270
    assert runner.place_waiting(now=at(friday, 8, 40)).ordered == 0  # the sell has not filled
    fill_new_orders(account, seoul(friday, 9))
    assert runner.place_waiting(now=at(friday, 9, 1)).ordered == 1
    buy.refresh_from_db()
    # all in: the cash the sale left (2,251 + 4,734,000 - 710 commission - 9,468 tax) buys 270 at 17,500
    assert buy.outcome == SignalOutcome.ORDERED and buy.quantity == 270
    assert buy.order.intent_id == buy.intent_id and runner.place_waiting(now=at(friday, 9, 2)).ordered == 0


def test_the_platform_cap_shares_a_thin_symbol_pro_rata_across_users(user, other_user, monkeypatch, settings):
    from strategies.tests.factories import StrategyFactory
    from trading.paper.tests.conftest import open_paper_account

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    # A trades 9,500,000,000 KRW a day on average: a cap of 0.03 % is 2,850,000 KRW per decision time
    settings.LIVE_PLATFORM_CAP_SHARE = 0.0003
    account, mine = make_world(user)
    theirs = start(other_user, StrategyFactory(owner=other_user, codes=[A, B], strategy_type="sma_cross",
                                               params={"fast": 1, "slow": 2}),
                   open_paper_account(other_user), capital=5_000_000)
    runner.run_due(now=at(THURSDAY, 8, 30))
    rows = DeploymentSignal.objects.order_by("deployment_id")
    assert [(r.deployment_id, r.quantity_wanted, r.quantity, r.verdict, r.outcome) for r in rows] == [
        (mine.pk, 263, 150, Verdict.TRIMMED, SignalOutcome.ORDERED),
        (theirs.pk, 263, 150, Verdict.TRIMMED, SignalOutcome.ORDERED)]
    assert rows[0].guard_code == "platform_cap" and "each gets its fair share" in rows[0].guard_message
    assert sorted(Order.objects.values_list("quantity", flat=True)) == [150, 150]


def test_a_days_loss_past_the_limit_pauses_every_deployment_of_the_user(user, monkeypatch):
    from trading.live.models import RiskSettings

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    account, deployment = make_world(user, sizing="all_in")
    runner.run_due(now=at(THURSDAY, 8, 30))
    fill_new_orders(account, seoul(THURSDAY, 9))  # 526 A at 9,500
    RiskSettings.objects.create(user=user, daily_loss_limit=Decimal(2))
    # the limit is 2 % of the day's starting equity (the 10,000,000 KRW account)
    write_bars(A, RISING + [9_200], THURSDAY)  # 526 x -300: a 1.6 % loss
    assert runner.daily_loss_pause(now=at(THURSDAY, 15, 40)) == []
    write_bars(A, RISING + [8_500], THURSDAY)  # 526 x -1,000: a 5.3 % loss
    assert runner.daily_loss_pause(now=at(THURSDAY, 15, 45)) == [user.pk]
    deployment.refresh_from_db()
    assert (deployment.state, deployment.state_code) == ("paused", "daily_loss")
    assert "reached your daily loss limit (2.00 percent" in deployment.state_reason


def test_a_stop_that_closes_positions_sells_them_then_frees_the_symbols(user, monkeypatch):
    from trading.live.models import SymbolClaim

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    account, deployment = make_world(user)
    runner.run_due(now=at(THURSDAY, 8, 30))
    fill_new_orders(account, seoul(THURSDAY, 9))
    services.deployment_stop(actor=Actor.of_user(user), deployment=deployment, close_positions=True)
    write_bars(A, RISING + [9_600], THURSDAY)
    write_bars(B, FALLING + [16_000], THURSDAY)
    friday = dt.date(2026, 3, 13)
    runner.run_due(now=at(friday, 8, 30))
    sell = DeploymentSignal.objects.get(side="sell")
    assert (sell.symbol, sell.reason, sell.quantity, sell.outcome) == (A, "close_all", 263, SignalOutcome.ORDERED)
    fill_new_orders(account, seoul(friday, 9))
    runner.run_due(now=at(dt.date(2026, 3, 16), 8, 30))
    assert not SymbolClaim.objects.filter(deployment=deployment).exists()
    assert DeploymentSignal.objects.count() == 2


def test_a_stop_loss_sells_at_the_pre_open_price_without_an_exit_signal(user, monkeypatch):
    from trading.brokers.base import Quote
    from trading.paper import prices

    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    account, deployment = make_world(user, stop_loss_pct=Decimal(5))
    runner.run_due(now=at(THURSDAY, 8, 30))
    fill_new_orders(account, seoul(THURSDAY, 9))  # 263 A at 9,500
    write_bars(A, RISING + [9_600], THURSDAY)  # up again: no exit signal
    write_bars(B, FALLING + [16_000], THURSDAY)
    prices.set_quote_source(lambda symbol: Quote(symbol, Decimal(8_900), previous_close=Decimal(9_600))
                            if symbol == A else None)
    try:
        runner.run_due(now=at(dt.date(2026, 3, 13), 8, 30))  # expected to open at 8,900: below 9,025
    finally:
        prices.set_quote_source(None)
    sell = DeploymentSignal.objects.get(side="sell")
    assert (sell.reason, sell.quantity, sell.price, sell.outcome) == ("stop_loss", 263, 8_900, SignalOutcome.ORDERED)
