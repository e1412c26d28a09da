"""The backtest pages: new-backtest form and its field errors, run and results pages, trades,
downloads, history, compare, the signal viewer, sweeps; another user's run or sweep is a 404."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from backtests import services, sweeps, validation
from backtests.models import BacktestRun, BacktestSweep, RunStatus
from coupons.tests.helpers import free_limits
from marketdata.models import Instrument
from strategies.models import Strategy

NEW = "/backtests/new/"
FORM = {
    "strategy": "", "title": "", "strategy_type": "sma_cross", "params.fast": "10", "params.slow": "30",
    "codes": "005930", "start": "2018-01-01", "end": "2024-12-31", "cash": "10000000", "commission": "0.015",
    "sell_tax": "", "slippage_bps": "0", "fill": "next_open", "accounts": "shared", "sizing": "",
    "submission_key": "key-1",
}


@pytest.fixture(autouse=True)
def _fresh_result_cache(fresh_result_cache):
    pass


@pytest.fixture
def alice(client: Client, user) -> Client:
    user.language = "en"  # messages are asserted in English (the msgids)
    user.save(update_fields=["language"])
    client.force_login(user)
    return client


@pytest.fixture
def bob(other_user) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


def post_new(client, django_capture_on_commit_callbacks, **changes):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(NEW, {**FORM, **changes})


def start_run(user, django_capture_on_commit_callbacks, *, codes="005930", title="SMA 10/30", **changes) -> BacktestRun:
    fields = {"strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": codes,
              "start": validation.dt.date(2018, 1, 1), "end": validation.dt.date(2024, 12, 31), "cash": 10_000_000,
              "title": title, **changes}
    checked = validation.backtest_request_check(user=user, fields=fields)
    with django_capture_on_commit_callbacks(execute=True):
        return services.backtest_start(user=user, spec=checked.spec, title=checked.title)


@pytest.fixture
def finished(user, sample_market, media, no_worker, django_capture_on_commit_callbacks) -> BacktestRun:
    run = start_run(user, django_capture_on_commit_callbacks, codes="005930 000660")
    return services.backtest_execute(run_id=run.pk)


# ---------------------------------------------------------------------------------------------------
# New backtest
# ---------------------------------------------------------------------------------------------------
def test_the_form_has_sensible_defaults_and_a_fresh_submission_key(alice, sample_market):
    response = alice.get(NEW)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["cash"] == 10_000_000 and form.initial["strategy_type"] == "sma_cross"
    assert (form.initial["end"] - form.initial["start"]).days > 4 * 365
    assert len(form.initial["submission_key"]) == 32
    assert alice.get(NEW).context["form"].initial["submission_key"] != form.initial["submission_key"]
    html = response.content.decode()
    assert 'name="params.fast"' in html and 'name="submission_key"' in html
    assert "instrument-picker" in html  # search by code or Korean name


def test_a_valid_form_starts_a_run_and_opens_its_page(alice, user, sample_market, no_worker,
                                                      django_capture_on_commit_callbacks):
    response = post_new(alice, django_capture_on_commit_callbacks)
    run = BacktestRun.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == f"/backtests/{run.pk}/"
    assert run.commission == validation.Decimal("0.00015")  # 0.015 % typed, a fraction stored
    assert run.params == {"fast": 10, "slow": 30} and run.codes == ["005930"]


def test_a_double_submit_starts_one_run(alice, user, sample_market, no_worker, django_capture_on_commit_callbacks):
    first = post_new(alice, django_capture_on_commit_callbacks)
    second = post_new(alice, django_capture_on_commit_callbacks)
    assert first["Location"] == second["Location"]
    assert BacktestRun.objects.filter(owner=user).count() == 1


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"codes": "005930 999999"}, "codes", "Unknown symbol: 999999."),
    ({"codes": "005930 035720", "start": "2015-01-01", "end": "2019-12-31"}, "codes",
     "No daily bars for 035720 between 2015-01-01 and 2019-12-31."),
    ({"start": "2020-01-01", "end": "2019-01-01"}, "end", "The end date is before the start date."),
    ({"start": "1990-01-01", "end": "1995-12-31"}, "start", "The period is outside the data: bars exist from"),
    ({"cash": "1000"}, "cash", "The capital is too small to buy one share of 005930"),
    ({"params.slow": "5"}, "params.slow", "Must be greater than"),
])
def test_each_error_is_shown_on_its_field(alice, user, sample_market, no_worker, django_capture_on_commit_callbacks,
                                          changes, field, message):
    response = post_new(alice, django_capture_on_commit_callbacks, **changes)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field]), errors
    assert f'data-field="{field}"' in response.content.decode()
    assert not BacktestRun.objects.filter(owner=user).exists()


def test_a_plan_limit_is_shown_at_the_top_of_the_form(alice, sample_market, no_worker, settings,
                                                      django_capture_on_commit_callbacks):
    free_limits(max_concurrent_backtests=1)
    post_new(alice, django_capture_on_commit_callbacks)
    response = post_new(alice, django_capture_on_commit_callbacks, submission_key="key-2")
    assert response.status_code == 400
    assert "queued or running" in str(response.context["form"].non_field_errors())


def test_the_form_prefills_from_a_strategy_and_from_a_run(alice, user, finished):
    strategy = Strategy.objects.create(owner=user, name="My RSI", strategy_type="rsi_reversion",
                                       params={"period": 10, "buy_below": 25, "sell_above": 75})
    strategy.instruments.set(Instrument.objects.filter(code="005930"))
    response = alice.get(NEW, {"strategy": strategy.pk})
    form = response.context["form"]
    assert form.initial["strategy_type"] == "rsi_reversion" and form.initial["params.period"] == 10
    assert "params.buy_below" in form.fields
    html = response.content.decode()  # the type select appears once, not inside an attribute
    assert html.count('name="strategy_type"') == 1
    assert 'data-strategy-type="rsi_reversion"' in html

    form = alice.get(NEW, {"from": finished.pk}).context["form"]
    assert form.initial["codes"] == "005930 000660" and form.initial["params.slow"] == 30
    assert form.initial["commission"] == validation.Decimal("0.015")


def test_the_type_switch_returns_that_types_parameters(alice, sample_market):
    response = alice.get("/backtests/params/", {"strategy_type": "rsi_reversion"})
    html = response.content.decode()
    assert 'name="params.buy_below"' in html and 'name="params.fast"' not in html
    # without JavaScript: a submit that only changes the type keeps everything else
    response = alice.post(NEW, {**FORM, "strategy_type": "donchian_breakout", "action": "change_type"})
    assert response.status_code == 200
    assert "params.entry_period" in response.context["form"].fields
    assert response.context["form"].initial["codes"] == "005930"


# ---------------------------------------------------------------------------------------------------
# Run page, results, trades, downloads
# ---------------------------------------------------------------------------------------------------
def test_an_active_run_shows_a_progress_bar_and_a_cancel_button(alice, user, sample_market, no_worker,
                                                                django_capture_on_commit_callbacks):
    run = start_run(user, django_capture_on_commit_callbacks)
    html = alice.get(f"/backtests/{run.pk}/").content.decode()
    assert 'role="progressbar"' in html and 'aria-valuenow="0"' in html
    assert f'data-run-id="{run.pk}"' in html and "cancel-run" in html and "js/backtests.js" in html
    response = alice.post(f"/backtests/{run.pk}/cancel/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    html = alice.get(f"/backtests/{run.pk}/").content.decode()
    assert "Cancelled." in html and "rerun" in html


def test_the_results_page_shows_metrics_charts_trades_and_inputs(alice, finished):
    response = alice.get(f"/backtests/{finished.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    for key in ("total_return", "cagr", "max_drawdown", "sharpe", "win_rate", "avg_trade_return", "trades", "exposure"):
        assert f'data-testid="metric-{key}"' in html
    assert 'data-testid="benchmark-total_return"' in html
    assert 'id="equity-chart"' in html and 'id="candle-chart"' in html and 'id="trade-markers"' in html
    assert "lightweight-charts.standalone.production.js" in html
    assert 'data-testid="trade-row"' in html and 'data-testid="per-symbol"' in html
    assert "삼성전자" in html and "SK하이닉스" in html  # names of the symbols
    assert "Fast period" in html  # frozen parameters with their labels
    for name in ("result.json", "trades.csv", "signals.csv"):
        assert f"/backtests/{finished.pk}/download/{name}" in html
    assert f"/backtests/new/?from={finished.pk}" in html and f"/backtests/{finished.pk}/rerun/" in html


def test_trades_sort_by_return_and_carry_colour_classes(alice, finished):
    response = alice.get(f"/backtests/{finished.pk}/trades/", {"sort": "-net_return"})
    rows = response.context["trades"]
    returns = [t["net_return"] for t in rows if t["net_return"] is not None]
    assert returns == sorted(returns, reverse=True)
    html = response.content.decode()
    assert 'class="up"' in html and 'class="down"' in html
    ascending = alice.get(f"/backtests/{finished.pk}/trades/", {"sort": "net_return"}).context["trades"]
    assert ascending[0]["net_return"] <= ascending[-1]["net_return"] or ascending[-1]["net_return"] is None
    by_type = alice.get(f"/backtests/{finished.pk}/trades/", {"sort": "exit_reason"}).context["trades"]
    assert [t["exit_reason"] for t in by_type] == sorted(t["exit_reason"] for t in by_type)


def test_trades_are_paginated_by_fifty(alice, finished):
    total = len(alice.get(f"/backtests/{finished.pk}/trades/").context["page_obj"].paginator.object_list)
    page = alice.get(f"/backtests/{finished.pk}/trades/", {"page": 2})
    assert len(page.context["trades"]) == min(50, max(total - 50, 0)) or total <= 50


def test_a_run_without_trades_shows_the_empty_state(alice, user, sample_market, media, no_worker,
                                                    django_capture_on_commit_callbacks):
    run = start_run(user, django_capture_on_commit_callbacks, strategy_type="rsi_reversion",
                    params={"period": 14, "buy_below": 1, "sell_above": 99},
                    start=validation.dt.date(2024, 12, 2), end=validation.dt.date(2024, 12, 31))
    services.backtest_execute(run_id=run.pk)
    html = alice.get(f"/backtests/{run.pk}/trades/").content.decode()
    assert 'data-testid="trades-empty"' in html


def test_the_price_colour_preference_flips_the_page_class(alice, user, finished):
    html = alice.get(f"/backtests/{finished.pk}/").content.decode()
    assert 'class="updown-kr"' not in html  # English: green up until chosen
    assert 'data-testid="price-colors-link"' in html and 'id="updown-toggle"' not in html
    user.price_colors = "kr"
    user.save(update_fields=["price_colors"])
    assert 'class="updown-kr"' in alice.get(f"/backtests/{finished.pk}/").content.decode()


def test_downloads_are_csv_with_a_bom_and_json(alice, finished):
    trades = alice.get(f"/backtests/{finished.pk}/download/trades.csv")
    assert trades.status_code == 200 and trades["Content-Type"].startswith("text/csv")
    text = trades.content.decode("utf-8")
    assert text.startswith("\ufeffsymbol,name,entry_date") and "삼성전자" in text
    signals = alice.get(f"/backtests/{finished.pk}/download/signals.csv").content.decode("utf-8")
    assert signals.startswith("\ufeffdate,symbol,name,type,price")
    document = json.loads(alice.get(f"/backtests/{finished.pk}/download/result.json").content)
    assert document["id"] == finished.pk and document["trades"]
    assert alice.get(f"/backtests/{finished.pk}/download/secrets.txt").status_code == 404


def test_rerun_starts_a_new_run_of_the_same_inputs(alice, user, finished, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(f"/backtests/{finished.pk}/rerun/")
    again = BacktestRun.objects.exclude(pk=finished.pk).get(owner=user)
    assert response["Location"] == f"/backtests/{again.pk}/"
    assert (again.params, again.codes) == (finished.params, finished.codes)
    key = alice.get(f"/backtests/{finished.pk}/").context["rerun_key"]
    with django_capture_on_commit_callbacks(execute=True):
        first = alice.post(f"/backtests/{finished.pk}/rerun/", {"submission_key": key})
        second = alice.post(f"/backtests/{finished.pk}/rerun/", {"submission_key": key})
    assert first["Location"] == second["Location"]  # a double click re-runs once
    assert BacktestRun.objects.filter(owner=user).count() == 3


def test_delete_asks_first_then_deletes(alice, user, finished):
    page = alice.get(f"/backtests/{finished.pk}/delete/")
    assert page.status_code == 200 and "confirm-delete" in page.content.decode()
    assert BacktestRun.objects.filter(pk=finished.pk).exists()
    response = alice.post(f"/backtests/{finished.pk}/delete/")
    assert response["Location"] == "/backtests/"
    assert not BacktestRun.objects.filter(pk=finished.pk).exists()


# ---------------------------------------------------------------------------------------------------
# History, compare, viewer
# ---------------------------------------------------------------------------------------------------
def test_history_filters_sorts_and_paginates(alice, user, sample_market, no_worker, settings,
                                             django_capture_on_commit_callbacks):
    free_limits(max_concurrent_backtests=100)
    samsung = start_run(user, django_capture_on_commit_callbacks, codes="005930", title="Samsung")
    hynix = start_run(user, django_capture_on_commit_callbacks, codes="000660", title="Hynix")
    BacktestRun.objects.filter(pk=samsung.pk).update(status=RunStatus.SUCCEEDED, total_return=0.5)
    BacktestRun.objects.filter(pk=hynix.pk).update(status=RunStatus.FAILED, total_return=0.1)

    assert [r.pk for r in alice.get("/backtests/", {"symbol": "000660"}).context["runs"]] == [hynix.pk]
    assert [r.pk for r in alice.get("/backtests/", {"status": "succeeded"}).context["runs"]] == [samsung.pk]
    assert [r.pk for r in alice.get("/backtests/", {"strategy_type": "rsi_reversion"}).context["runs"]] == []
    assert [r.pk for r in alice.get("/backtests/", {"sort": "total_return"}).context["runs"]] == [hynix.pk, samsung.pk]
    assert [r.pk for r in alice.get("/backtests/", {"sort": "-total_return"}).context["runs"]] == [samsung.pk, hynix.pk]
    assert alice.get("/backtests/", {"since": "2099-01-01"}).context["runs"].__len__() == 0
    html = alice.get("/backtests/", {"symbol": "999999"}).content.decode()
    assert 'data-testid="filter-empty"' in html

    for i in range(26):
        start_run(user, django_capture_on_commit_callbacks, title=f"Run {i}")
    first = alice.get("/backtests/")
    assert len(first.context["runs"]) == 25 and first.context["page_obj"].has_next()
    assert len(alice.get("/backtests/", {"page": 2}).context["runs"]) == 3


def test_history_empty_state(alice):
    assert 'data-testid="empty-state"' in alice.get("/backtests/").content.decode()


def test_compare_shows_metrics_side_by_side_and_curves(alice, user, finished, django_capture_on_commit_callbacks):
    other = services.backtest_execute(run_id=start_run(user, django_capture_on_commit_callbacks, codes="005930").pk)
    response = alice.get("/backtests/compare/", {"ids": [finished.pk, other.pk]})
    assert response.status_code == 200
    assert [r.pk for r in response.context["runs"]] == [finished.pk, other.pk]
    assert len(response.context["curves"]) == 2 and response.context["curves"][0]["values"][0] == 100
    assert 'id="compare-curves"' in response.content.decode()
    assert alice.get("/backtests/compare/", {"ids": [finished.pk]}).status_code == 302


def test_the_viewer_shows_the_latest_runs_signals_with_a_symbol_filter(alice, finished):
    response = alice.get("/viewer/")
    assert response.status_code == 200 and response.context["run"].pk == finished.pk
    html = response.content.decode()
    assert f'data-run-id="{finished.pk}"' in html and 'data-testid="signal-row"' in html
    assert 'data-testid="viewer-history"' in html and "js/backtests.js" in html
    only = alice.get("/viewer/", {"run": finished.pk, "symbol": "000660", "partial": 1})
    assert {s["symbol"] for s in only.context["signals"]} == {"000660"}
    assert 'data-pinned="1"' in only.content.decode()
    follow = alice.get("/viewer/", {"run": finished.pk, "partial": 1, "follow": 1}).content.decode()
    assert 'data-pinned=""' in follow


def test_the_viewer_without_runs_says_so(alice):
    assert 'data-testid="viewer-empty"' in alice.get("/viewer/").content.decode()


# ---------------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def sweep(user, sample_market, media, monkeypatch, django_capture_on_commit_callbacks) -> BacktestSweep:
    monkeypatch.setattr("backtests.sweeps._enqueue", lambda sweep_id, chunks: None)
    checked = validation.backtest_request_check(user=user, fields={
        "strategy_type": "sma_cross", "params": {"fast": 10, "slow": 30}, "codes": "005930",
        "start": validation.dt.date(2018, 1, 1), "end": validation.dt.date(2024, 12, 31), "cash": 10_000_000})
    created = sweeps.sweep_start(user=user, spec=checked.spec, title="SMA grid", x_param="fast", x_values="5, 10",
                                 y_param="slow", y_values="30, 60", metric="sharpe")
    sweeps.sweep_execute_chunk(sweep_id=created.pk, cell_ids=list(created.cells.values_list("pk", flat=True)))
    created.refresh_from_db()
    return created


def test_the_sweep_form_starts_a_sweep(alice, user, sample_market, monkeypatch):
    monkeypatch.setattr("backtests.sweeps._enqueue", lambda sweep_id, chunks: None)
    page = alice.get("/backtests/sweeps/new/")
    assert 'name="x_param"' in page.content.decode()
    response = alice.post("/backtests/sweeps/new/", {**FORM, "x_param": "fast", "x_values": "5:15:5",
                                                      "y_param": "", "y_values": "", "metric": "sharpe"})
    created = BacktestSweep.objects.get(owner=user)
    assert response["Location"] == f"/backtests/sweeps/{created.pk}/"
    assert created.x_values == [5, 10, 15]


def test_the_sweep_form_shows_grid_errors_on_their_fields(alice, sample_market, monkeypatch):
    monkeypatch.setattr("backtests.sweeps._enqueue", lambda sweep_id, chunks: None)
    response = alice.post("/backtests/sweeps/new/", {**FORM, "x_param": "fast", "x_values": "a, b",
                                                      "y_param": "fast", "y_values": "1", "metric": "sharpe"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "x_values" in errors and "y_param" in errors


def test_the_sweep_page_shows_heatmap_best_cell_and_the_overfitting_warning(alice, sweep):
    assert sweep.status == RunStatus.SUCCEEDED
    response = alice.get(f"/backtests/sweeps/{sweep.pk}/")
    html = response.content.decode()
    assert html.count('data-testid="heat-cell"') == 4
    assert html.count('data-best="1"') == 2  # the heatmap cell and the table row
    assert "In-sample only" in html and 'data-testid="overfitting-warning"' in html
    assert response.context["best"] == sweeps.sweep_best(sweep)
    ordered = alice.get(f"/backtests/sweeps/{sweep.pk}/", {"sort": "-sharpe"}).context["cells"]
    values = [c.metrics["sharpe"] for c in ordered if c.metrics.get("sharpe") is not None]
    assert values == sorted(values, reverse=True)
    assert f"/backtests/sweeps/{sweep.pk}/" in alice.get("/backtests/sweeps/").content.decode()


def test_a_sweep_cell_opens_as_a_full_run(alice, user, sweep, no_worker, django_capture_on_commit_callbacks):
    cell = sweep.cells.first()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(f"/backtests/sweeps/{sweep.pk}/cells/{cell.pk}/run/")
    run = BacktestRun.objects.get(owner=user, sweep=sweep)
    assert response["Location"] == f"/backtests/{run.pk}/" and run.params == cell.params


# ---------------------------------------------------------------------------------------------------
# Ownership and login
# ---------------------------------------------------------------------------------------------------
def test_bob_gets_404_on_every_page_of_alices_run_and_sweep(bob, finished, sweep):
    run, cell = finished.pk, sweep.cells.first().pk
    for url in (f"/backtests/{run}/", f"/backtests/{run}/trades/", f"/backtests/{run}/delete/",
                f"/backtests/{run}/download/trades.csv", f"/backtests/new/?from={run}",
                f"/backtests/compare/?ids={run}&ids={run + 1}", f"/viewer/?run={run}",
                f"/backtests/sweeps/{sweep.pk}/"):
        assert bob.get(url).status_code == 404, url
    for url in (f"/backtests/{run}/cancel/", f"/backtests/{run}/rerun/", f"/backtests/{run}/delete/",
                f"/backtests/sweeps/{sweep.pk}/cancel/", f"/backtests/sweeps/{sweep.pk}/cells/{cell}/run/"):
        assert bob.post(url).status_code == 404, url
    assert BacktestRun.objects.filter(pk=run).exists()


def test_every_page_needs_a_login(client, finished):
    for url in ("/backtests/", "/backtests/new/", f"/backtests/{finished.pk}/", "/viewer/", "/backtests/sweeps/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
