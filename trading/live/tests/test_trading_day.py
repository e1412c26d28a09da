"""One simulated trading week on the paper broker with the test clock: the runner skips a holiday, acts
in the pre-open auction, its order fills at the open, the position and the day's P&L follow; a kill
switch pulled mid-day stops the new orders of an every-30-minutes deployment; duplicate beats and a
restart order nothing twice; the next morning, without the evening's bars, it refuses stale data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from core import clock
from core.audit import Actor
from strategies.tests.factories import StrategyFactory
from trading.brokers.base import Quote
from trading.killswitch import kill_switch_pull
from trading.live import runner
from trading.live.models import DeploymentDay, DeploymentSignal, DeploymentTiming, SignalOutcome
from trading.live.summary import day_summaries
from trading.orders import reconcile, services
from trading.orders.models import Order, Position
from trading.paper import prices
from trading.paper.matching import paper_match_all

from .test_runner import A, B, KRX, at, make_world, start, write_bars

pytestmark = pytest.mark.django_db
HOLIDAY, TUESDAY, WEDNESDAY = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)
FRIDAY = KRX.previous_trading_day(TUESDAY)


@pytest.fixture(autouse=True)
def _english_and_clock(monkeypatch):
    monkeypatch.delenv("CLOCK_FILE", raising=False)
    with translation.override("en"):
        yield
    clock.reset()


@pytest.fixture
def quotes():
    """Today's prices by symbol, served as the paper broker's quote source (the live feed's role)."""
    board: dict[str, tuple[int, int]] = {}
    prices.set_quote_source(lambda symbol: Quote(symbol, Decimal(board[symbol][0]),
                                                 previous_close=Decimal(board[symbol][1]))
                            if symbol in board else None)
    yield board
    prices.set_quote_source(None)


def send_orders() -> None:
    """The submit jobs of the new orders, run now (the workers' part)."""
    for order in Order.objects.filter(state="new"):
        services.order_submit(order_id=order.pk)


def test_a_trading_day_on_the_paper_broker(user, monkeypatch, quotes):
    monkeypatch.setattr("trading.orders.services.enqueue_submit", lambda pk: None)
    account, opening = make_world(user, capital=4_000_000, last_day=TUESDAY)
    opening = type(opening).objects.get(pk=opening.pk)
    write_bars("035720", [50_000, 49_000, 48_000, 47_000], FRIDAY)
    from marketdata.tests.factories import InstrumentFactory

    InstrumentFactory(code="035720", name="카카오")
    every = start(user, StrategyFactory(owner=user, codes=["035720"], strategy_type="sma_cross",
                                        params={"fast": 1, "slow": 2}),
                  account, capital=2_000_000, timing=DeploymentTiming.INTERVAL, name="every 30",
                  interval_minutes=30)

    # Monday is a holiday (삼일절's substitute): nobody decides
    assert runner.run_due(now=at(HOLIDAY, 8, 30)).intents == 0
    assert not DeploymentSignal.objects.exists()

    # Tuesday, pre-open auction: the open deployment buys A on Friday's bar at the expected price
    quotes.update({A: (9_600, 9_500), B: (16_900, 17_000), "035720": (46_500, 47_000)})
    report = runner.run_due(now=at(TUESDAY, 8, 30))
    buy = DeploymentSignal.objects.get(deployment=opening)
    assert (report.intents, buy.symbol, buy.side, buy.outcome) == (1, A, "buy", SignalOutcome.ORDERED)
    assert buy.quantity == 208  # 4,000,000 / 2 at 9,600 with commission
    send_orders()
    assert Order.objects.get().state == "accepted"  # resting in the auction

    # the open: paper matching fills it at the opening price; reconciliation books it
    quotes[A] = (9_700, 9_500)
    fills = paper_match_all(now=at(TUESDAY, 9, 0))
    reconcile.account_reconcile(account=account)
    order = Order.objects.get()
    assert len(fills) == 1 and (order.state, order.average_fill_price) == ("filled", Decimal(9_700))
    assert Position.objects.get(account=account, symbol=A).quantity == 208

    # every 30 minutes the other deployment decides on Friday's bars plus today's quote: no cross yet
    for minute in (0, 30):
        runner.run_due(now=at(TUESDAY, 9, minute))
    assert not DeploymentSignal.objects.filter(deployment=every).exists()

    # a kill switch mid-day: the 10:30 entry (the price rose past Friday's close) is refused
    kill_switch_pull(actor=Actor.of_user(user), scope="user", user=user, reason="lunch")
    quotes["035720"] = (47_500, 47_000)
    runner.run_due(now=at(TUESDAY, 10, 31))
    refused = DeploymentSignal.objects.get(deployment=every)
    assert refused.outcome == SignalOutcome.REFUSED and "kill switch" in refused.outcome_message
    assert Order.objects.count() == 1

    # duplicate beats and a restart that lost the decision marks: nothing is ordered twice
    type(every).objects.update(last_decision_at=None)
    for minute in (32, 32, 40):
        runner.run_due(now=at(TUESDAY, 10, minute))
    assert DeploymentSignal.objects.count() == 2 and Order.objects.count() == 1

    # after the close: the day's P&L of the bucket at the closing price
    quotes[A] = (9_900, 9_500)
    assert day_summaries(now=at(TUESDAY, 15, 40)) == 2
    day = DeploymentDay.objects.get(deployment=opening, day=TUESDAY)
    fill = order.fills.get()
    assert day.equity == Decimal(4_000_000) - fill.value - fill.commission + 208 * 9_900
    assert day.pnl == day.equity - 4_000_000 and day.positions == 1 and day.fills == 1

    # Wednesday: Tuesday's bars never arrived: the open deployment refuses and says so
    report = runner.run_due(now=at(WEDNESDAY, 8, 30))
    opening.refresh_from_db()
    assert report.stale >= 1 and "2026-03-03" in opening.data_note
    assert DeploymentSignal.objects.count() == 2
