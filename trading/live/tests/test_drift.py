"""The drift report: a seeded slippage shows up as exactly its KRW and basis points on every trade;
an order the checks refused is a missed signal with the reason; the engine's equity curve."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from core.audit import Actor
from marketdata.calendars import SEOUL
from trading.killswitch import kill_switch_pull
from trading.live import replay
from trading.live.drift import MATCHED, MISSED, backtest_equity, drift_report

from .replay_scenario import MONTH, month_deployment, record_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _jobs(monkeypatch) -> list[tuple]:
    return record_jobs(monkeypatch)
SLIP = Decimal(20)  # KRW added to every replayed price: two ticks at these prices


class SlippedQuotes(replay.ReplayQuotes):
    """The replay's prices, SLIP KRW higher: buys pay SLIP more, sells receive SLIP more."""

    def __call__(self, symbol):
        quote = super().__call__(symbol)
        return None if quote is None else dataclasses.replace(quote, price=quote.price + SLIP)


def replay_with(deployment, quotes):
    deployment = replay.replay_begin(actor=Actor.system("test"), deployment=deployment, paced=False)
    while replay.replay_advance(deployment=deployment, quotes=quotes) is not None:
        pass
    deployment.refresh_from_db()
    return deployment


def test_a_seeded_slippage_shows_as_its_krw_and_bps_on_every_trade(user):
    deployment = month_deployment(user)
    deployment = replay_with(deployment, SlippedQuotes(list(deployment.symbols), *MONTH))

    report = drift_report(deployment)
    rows = report.rows
    assert len(rows) >= 4 and {row.kind for row in rows} == {MATCHED}
    assert {row.side for row in rows} == {"buy", "sell"}
    for row in rows:
        assert row.price_difference == SLIP  # every fill 20 KRW off the engine's open
        assert row.slippage == (SLIP if row.side == "buy" else -SLIP)
        assert row.slippage_bps == (row.slippage / row.engine_price * 10_000).quantize(Decimal("0.01"))
        assert abs(row.slippage_bps) > 0
    totals = report.totals
    assert totals.other_price == totals.matched == len(rows) and totals.missed == totals.extra == 0
    assert totals.slippage_value == sum(row.slippage * row.live_quantity for row in rows)
    assert not totals.agrees

    with translation.override("en"):
        html = render_to_string("trading/live/_drift.html", {"deployment": deployment})
    assert html.count('data-testid="drift-row"') == len(rows)
    first = rows[0]
    assert f"{first.slippage_bps}" in html and "+20" in html


def test_a_refused_order_is_a_missed_signal_with_the_reason_and_the_engine_curve_runs_on(user):
    deployment = month_deployment(user)
    deployment.replay_end = dt.date(2026, 4, 10)
    deployment.save(update_fields=["replay_end"])
    kill_switch_pull(actor=Actor.of_user(user), scope="user", user=user, reason="휴가 중")

    with translation.override("en"):
        deployment = replay_with(deployment, None)
        report = drift_report(deployment)

    missed = [row for row in report.rows if row.kind == MISSED]
    assert missed and len(missed) == report.totals.engine_trades and report.totals.live_trades == 0
    assert all("kill switch" in row.why.lower() for row in missed)
    assert report.totals.blocked == len(missed)
    curve = backtest_equity(deployment)
    assert [day for day, _ in curve] == [day.day for day in report.days]
    assert curve[0][1] == deployment.capital and curve[-1][1] != deployment.capital
    # the chart's call: values on the deployment's own days
    assert backtest_equity(deployment, days=[curve[-1][0], dt.date(2026, 5, 1)]) == [curve[-1][1], None]


def test_a_stop_taken_at_the_next_open_is_one_late_row_with_its_slippage():
    from trading.live.drift import LATE, Leg, _rows, _totals

    friday, monday = dt.date(2026, 4, 10), dt.date(2026, 4, 13)
    engine = [Leg(dt.date(2026, 4, 8), "900101", "buy", Decimal(10), Decimal(10_000)),
              Leg(friday, "900101", "sell", Decimal(10), Decimal(9_200), "stop_loss")]
    live = [Leg(dt.date(2026, 4, 8), "900101", "buy", Decimal(10), Decimal(10_000)),
            Leg(monday, "900101", "sell", Decimal(10), Decimal(9_100))]
    with translation.override("en"):
        rows = _rows(engine, live, {})
    assert [row.kind for row in rows] == [MATCHED, LATE]
    late = rows[1]
    assert (late.day, late.live_day, late.slippage, late.slippage_bps) == (friday, monday, Decimal(100),
                                                                         Decimal("108.70"))
    totals = _totals(rows, engine, live)
    assert (totals.matched, totals.late, totals.missed, totals.extra, totals.slippage_value) == (1, 1, 0, 0, 1000)
    assert not totals.agrees


@pytest.mark.parametrize(("started", "timing", "first"), [
    (dt.datetime(2026, 4, 8, 8, 0), "open", dt.date(2026, 4, 8)),  # before the pre-open auction: that morning
    (dt.datetime(2026, 4, 8, 10, 0), "open", dt.date(2026, 4, 9)),  # after it: the next morning
    (dt.datetime(2026, 4, 8, 10, 0), "close", dt.date(2026, 4, 8)),  # the closing auction is still ahead
    (dt.datetime(2026, 4, 11, 10, 0), "open", dt.date(2026, 4, 13)),  # a Saturday: Monday
])
def test_a_live_deployment_is_compared_from_its_first_decision(started, timing, first):
    from trading.live.drift import report_window
    from trading.live.models import Deployment

    deployment = Deployment(timing=timing, started_at=started.replace(tzinfo=SEOUL),
                            stopped_at=dt.datetime(2026, 4, 30, 16, 0, tzinfo=SEOUL))
    assert report_window(deployment) == (first, dt.date(2026, 4, 30))


def test_the_deployment_page_runs_the_engine_once_for_the_report_and_the_chart(user, client, monkeypatch):
    from trading.live import drift

    deployment = replay_with(month_deployment(user), None)
    runs = []
    real = drift._engine_run
    monkeypatch.setattr(drift, "_engine_run", lambda *args: runs.append(args) or real(*args))

    client.force_login(user)
    response = client.get(f"/trading/deployments/{deployment.pk}/")
    assert response.status_code == 200 and 'data-testid="drift-row"' in response.content.decode()
    assert len(runs) == 1  # the drift report and the chart's backtest curve share it

    # outside a page each call computes afresh, and a changed deployment is never served an old run
    start, end = drift.report_window(deployment)
    drift.engine_run(deployment, start, end)
    drift.engine_run(deployment, start, end)
    assert len(runs) == 3
    with drift.engine_runs_shared():
        first = drift.engine_run(deployment, start, end)
        deployment.capital = deployment.capital * 2
        second = drift.engine_run(deployment, start, end)
    assert len(runs) == 5 and first.equity[0][1] * 2 == second.equity[0][1]


def test_the_page_keeps_its_engine_run_until_a_bar_file_or_a_lot_changes(user, client, monkeypatch):
    import os

    from marketdata.models import Instrument
    from marketdata.selectors import bar_store
    from trading.live import drift

    deployment = replay_with(month_deployment(user), None)
    runs = []
    real = drift._engine_run
    monkeypatch.setattr(drift, "_engine_run", lambda *args: runs.append(args) or real(*args))
    client.force_login(user)
    page = f"/trading/deployments/{deployment.pk}/"

    first = client.get(page).content.decode()
    assert client.get(page).content.decode().count('data-testid="drift-row"') == first.count('data-testid="drift-row"')
    assert len(runs) == 1  # the second request reused the first one's run: same bars, lots, snapshot, window

    store = bar_store()
    code = deployment.symbols[0]
    path = store._bar_path(store.market_of(code), code)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # a rewritten bar file
    client.get(page)
    assert len(runs) == 2
    Instrument.objects.filter(code=code).update(lot_size=10)  # another lot size in the instrument master
    client.get(page)
    assert len(runs) == 3
    with drift.engine_runs_shared():  # not kept: computed afresh
        drift.engine_run(deployment, *drift.report_window(deployment))
    assert len(runs) == 4
