"""How numbers and engine codes read on the backtest pages (the ``backtest_format`` filters)."""

from __future__ import annotations

import math

import pytest
from django.template import Context, Template
from django.utils import translation

from backtests import labels
from backtests.engine import REASONS
from backtests.templatetags.backtest_format import code_label, krw, metric, pct, price, share
from strategies.models import Sizing


def render(source: str, **context) -> str:
    return Template("{% load backtest_format %}" + source).render(Context(context))


@pytest.mark.parametrize(("value", "code", "shown"), [
    (123270.8, "005930", "123,271"),  # a fill with slippage: stock prices are whole won
    (123270.4, "005930", "123,270"),
    (57000.5, "", "57,001"),  # half a won rounds up, not to even
    (57000.0, "005930", "57,000"),
    (32057827.4, "KRW-BTC", "32,057,827.40"),  # crypto keeps its decimals
    (0.00123, "KRW-SHIB", "0.00123"),
    (700.0, "KRW-XRP", "700"),
    (None, "005930", "—"),
    (math.nan, "005930", "—"),
])
def test_prices_are_whole_won_for_stocks_and_keep_decimals_for_crypto(value, code, shown):
    assert price(value, code) == shown


def test_the_price_filter_takes_the_symbol_in_a_template():
    assert render("{{ p|price:code }}", p=123270.8, code="005930") == "123,271"
    assert render("{{ p|price:code }}", p=5123.25, code="KRW-XRP") == "5,123.25"


@pytest.mark.parametrize(("value", "shown"), [
    (0.1234, "+12.34%"), (-0.05, "-5.00%"), (0.0, "0.00%"), (0.00001, "0.00%"), (-0.00001, "0.00%"), (None, "—"),
    (12.5, "+1,250.00%"),
])
def test_returns_are_signed(value, shown):
    assert pct(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(0.2794, "27.94%"), (1.0, "100.00%"), (0.0, "0.00%"), (None, "—")])
def test_win_rate_and_exposure_are_not_signed(value, shown):
    assert share(value) == shown
    assert metric(value, "share") == shown


def test_metric_formats():
    assert metric(0.1, "pct") == "+10.00%"
    assert metric(68, "int") == "68"
    assert metric(12345, "int") == "12,345"
    assert metric(-0.004, "ratio") == "0.00"  # not "-0.00"
    assert metric(1.254, "ratio") == "1.25"
    assert metric("not a number", "ratio") == "—"


def test_pnl_is_signed_whole_won_and_costs_are_not_signed():
    assert krw(1234567.4, "signed") == "+1,234,567"
    assert krw(-200000.0, "signed") == "-200,000"
    assert krw(0.2, "signed") == "0"
    assert krw(15432.6) == "15,433"
    assert krw(None) == "—"


def test_every_exit_reason_the_engine_produces_has_a_label():
    assert set(labels.EXIT_REASONS) == set(REASONS)
    for code in REASONS:
        assert code_label(code, "exit_reason") != code


def test_every_sizing_has_a_label():
    assert set(labels.SIZINGS) == set(Sizing.values)


def test_codes_read_in_korean_and_english():
    with translation.override("ko"):
        assert code_label("stop_loss", "exit_reason") == "손절"
        assert code_label("open", "exit_reason") == "보유 중"
        assert code_label("equal_weight", "sizing") == "균등 비중 (투자 대상에 고르게)"
        assert render('{{ r|code_label:"exit_reason" }}', r="take_profit") == "익절"
    with translation.override("en"):
        assert code_label("max_holding", "exit_reason") == "Max holding period"
        assert code_label("signal", "exit_reason") == "Exit signal"


def test_an_unknown_code_shows_as_it_is():
    assert code_label("margin_call", "exit_reason") == "margin_call"
    assert code_label(None, "exit_reason") == ""
