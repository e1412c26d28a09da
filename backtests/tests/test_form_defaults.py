"""A new backtest ends on the last day with data, not today (the sample bars stop months earlier)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from backtests.forms import BacktestForm
from strategies.tests.factories import StrategyFactory

SAMPLE_STOCKS_END = dt.date(2026, 3, 17)  # marketdata/sample_data/README.md
SAMPLE_BTC_END = dt.date(2025, 11, 28)


def test_the_end_date_is_the_last_day_the_store_has_bars_for(sample_market):
    defaults = BacktestForm.defaults()
    assert defaults["end"] == SAMPLE_STOCKS_END != timezone.localdate()
    assert defaults["start"] == dt.date(2021, 3, 17)  # five years of data before it


def test_a_strategys_run_ends_on_its_own_symbols_last_day(sample_market, user):
    strategy = StrategyFactory(owner=user, codes=["KRW-BTC"])
    assert BacktestForm.initial_for_strategy(strategy)["end"] == SAMPLE_BTC_END


def test_symbols_without_bars_fall_back_to_the_stores_last_day(sample_market, user):
    strategy = StrategyFactory(owner=user, codes=["005935"])  # an instrument without bars
    assert BacktestForm.initial_for_strategy(strategy)["end"] == SAMPLE_STOCKS_END


def test_without_any_bars_it_is_today(db, bar_store):
    assert BacktestForm.defaults()["end"] == timezone.localdate()


def test_the_new_backtest_page_shows_that_end_date(sample_market, client, user):
    client.force_login(user)
    body = client.get("/backtests/new/").content.decode()
    assert 'name="end" value="2026-03-17"' in body
