"""The long tables rendered in Python (``backtest_rows``) write the markup their row templates wrote,
byte for byte, in Korean and in English (the browser tests and the scripts read it)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone, translation

from backtests.models import BacktestRun, RunStatus
from strategies import schema

# The loops the templates had before the rows moved to Python, as they were.
OLD_TRADE_ROWS = """{% load i18n humanize backtest_format %}{% for trade in trades %}
    <tr data-testid="trade-row">
      <th scope="row"><code>{{ trade.symbol }}</code> {{ names|get:trade.symbol|default:"" }}</th>
      <td>{{ trade.entry_date }}</td><td>{{ trade.entry_price|price:trade.symbol }}</td>
      <td>{{ trade.exit_date|default:"—" }}</td><td>{{ trade.exit_price|price:trade.symbol }}</td>
      <td data-testid="trade-quantity">{% with decimals=quantity_decimals|get:trade.symbol %}{{ trade.shares|quantity:decimals }}{% endwith %}</td>
      <td class="{{ trade.net_return|updown }}" data-testid="trade-return" data-value="{{ trade.net_return|default_if_none:'' }}">{{ trade.net_return|pct }}</td>
      <td class="{{ trade.pnl|updown }}">{{ trade.pnl|krw:"signed" }}</td>
      <td>{{ trade.holding_days }}</td>
      <td data-testid="exit-reason" data-code="{{ trade.exit_reason }}">{{ trade.exit_reason|code_label:"exit_reason" }}</td>
    </tr>
  {% endfor %}"""
OLD_RUN_ROWS = """{% load i18n humanize backtest_format %}{% for run in runs %}
    <tr data-testid="run-row" data-run-id="{{ run.pk }}">
      <td class="cell-select"><input type="checkbox" name="ids" value="{{ run.pk }}" aria-label="{% translate 'Compare' %} #{{ run.pk }}"{% if request.GET.compare_with == run.pk|stringformat:"s" %} checked{% endif %}></td>
      <th scope="row" class="cell-title"><a href="{% url 'backtests:detail' run.pk %}">{{ run.title }}</a> <small class="muted">#{{ run.pk }} · {{ type_labels|get:run.strategy_type|default:run.strategy_type }}</small></th>
      <td class="cell-wide" data-label="{% translate 'Symbols' %}">{{ run.codes|slice:":3"|join:" " }}{% if run.codes|length > 3 %} +{{ run.codes|length|add:"-3" }}{% endif %}</td>
      <td class="cell-status" data-label="{% translate 'Status' %}"><span class="badge status-{{ run.status }}" data-testid="status-badge">{{ run.get_status_display }}</span></td>
      <td class="{{ run.total_return|updown }}" data-label="{% translate 'Return' %}">{{ run.total_return|pct }}</td>
      <td class="{{ run.cagr|updown }}" data-label="{% translate 'CAGR' context 'short metric label' %}">{{ run.cagr|pct }}</td>
      <td data-label="{% translate 'MDD' %}">{{ run.max_drawdown|pct }}</td>
      <td data-label="{% translate 'Sharpe' %}">{{ run.sharpe|metric:"ratio" }}</td>
      <td data-label="{% translate 'Win rate' %}">{{ run.win_rate|share }}</td>
      <td data-label="{% translate 'Trades' %}">{{ run.trades|default_if_none:"—" }}</td>
      <td class="cell-meta cell-wide"><time datetime="{{ run.created_at|date:'c' }}">{{ run.created_at|date:"Y-m-d H:i" }}</time></td>
      <td class="row-actions cell-meta">{% if run.is_final %}<a href="{% url 'backtests:delete' run.pk %}" class="danger-link" data-testid="delete-row">{% translate "Delete" %}</a>{% endif %}</td>
    </tr>
  {% endfor %}"""
OLD_SIGNAL_ROWS = """{% load i18n backtest_format %}{% for signal in signals %}
      <tr data-testid="signal-row" data-symbol="{{ signal.symbol }}"><td>{{ signal.date }}</td><td><code>{{ signal.symbol }}</code> {{ signal.name }}</td>
        <td class="{% if signal.type == 'entry' %}up{% else %}down{% endif %}">{% if signal.type == "entry" %}{% translate "Buy" %}{% else %}{% translate "Sell" %}{% endif %}</td>
        <td>{{ signal.price|price:signal.symbol }}</td></tr>
    {% endfor %}"""

TRADES = [
    {"symbol": "005930", "entry_date": "2024-01-02", "entry_price": 71234.6, "exit_date": "2024-02-01",
     "exit_price": 75000.0, "shares": 1234, "net_return": 0.0512345, "pnl": 1234567.4, "holding_days": 21,
     "exit_reason": "signal"},
    {"symbol": "KRW-BTC", "entry_date": "2024-03-04", "entry_price": 92057827.4, "exit_date": None,
     "exit_price": None, "shares": 0.01234567, "net_return": None, "pnl": None, "holding_days": 1234,
     "exit_reason": "open"},
    {"symbol": "000660", "entry_date": "2024-05-06", "entry_price": 0.5, "exit_date": "2024-05-07",
     "exit_price": 0.4, "shares": 3, "net_return": -0.2, "pnl": -0.4, "holding_days": 0,
     "exit_reason": "stop_loss"},
    {"symbol": "<b>&", "entry_date": "2024-05-06", "entry_price": 100.0, "exit_date": "",
     "exit_price": 90.0, "shares": 1, "net_return": 0.0, "pnl": 0.0, "holding_days": 2,
     "exit_reason": "mystery<code>"},
    {"symbol": "035720", "entry_date": "2024-05-06", "entry_price": 100.0, "exit_date": "2024-05-09",
     "exit_price": 90.0, "shares": 1, "net_return": 1e-7, "pnl": 12.0, "holding_days": 2, "exit_reason": None},
]
NAMES = {"005930": "삼성전자", "<b>&": "A & <B>", "KRW-BTC": ""}
DECIMALS = {"KRW-BTC": 8, "005930": 0}


def _runs() -> list[BacktestRun]:
    moment = dt.datetime(2026, 3, 4, 23, 59, 30, 123456, tzinfo=dt.UTC)
    common = {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 12, 31), "cash": 10_000_000}
    return [
        BacktestRun(pk=7, title="Momentum <&> \"quoted\"", strategy_type="sma_cross", codes=["005930", "000660"],
                    status=RunStatus.SUCCEEDED, total_return=0.1234, cagr=-0.05, max_drawdown=-0.3, sharpe=1.2345,
                    win_rate=0.55, trades=1234, created_at=moment, **common),
        BacktestRun(pk=12, title="Many", strategy_type="no_such_type", codes=["A", "B", "C", "D", "E<"],
                    status=RunStatus.RUNNING, created_at=moment - dt.timedelta(days=40), **common),
        BacktestRun(pk=13, title="Failed", strategy_type="sma_cross", codes=[], status=RunStatus.FAILED,
                    total_return=0.0, trades=0, created_at=moment, **common),
    ]


SIGNALS = [
    {"date": "2024-01-02", "symbol": "005930", "type": "entry", "price": 71234.6, "name": "삼성전자"},
    {"date": "2024-01-03", "symbol": "KRW-BTC", "type": "exit", "price": 0.00123, "name": ""},
    {"date": "2024-01-04", "symbol": "<x>", "type": "exit", "price": None, "name": "A & B"},
]


def _both(old: str, new: str, **context) -> tuple[str, str]:
    return Template(old).render(Context(context)), Template(new).render(Context(context))


@pytest.mark.parametrize("language", ["ko", "en"])
def test_trade_rows_write_the_markup_of_the_row_template(language):
    with translation.override(language):
        old, new = _both(OLD_TRADE_ROWS, "{% load backtest_rows %}{% trade_rows trades names quantity_decimals %}",
                         trades=TRADES, names=NAMES, quantity_decimals=DECIMALS)
    assert new == old
    assert new.count('data-testid="trade-row"') == len(TRADES)


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("compare_with", ["", "12", "x"])
def test_run_rows_write_the_markup_of_the_row_template(language, compare_with):
    request = RequestFactory().get("/backtests/", {"compare_with": compare_with} if compare_with else {})
    with translation.override(language), timezone.override("Asia/Seoul"):
        old, new = _both(OLD_RUN_ROWS, "{% load backtest_rows %}{% run_rows runs type_labels request.GET.compare_with %}",
                         runs=_runs(), type_labels=dict(schema.type_choices()), request=request)
    assert new == old
    assert ("checked" in new) == (compare_with == "12")


@pytest.mark.parametrize("language", ["ko", "en"])
def test_signal_rows_write_the_markup_of_the_row_template(language):
    with translation.override(language):
        old, new = _both(OLD_SIGNAL_ROWS, "{% load backtest_rows %}{% signal_rows signals %}", signals=SIGNALS)
    assert new == old


def _fields(form) -> list:
    return [form[name] for name in form.fields]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("bound", [False, True])
def test_field_block_writes_the_markup_of_the_field_template(user, language, bound):
    from django.template.loader import get_template

    from backtests.forms import BacktestForm, SweepForm

    field_template = get_template("strategies/_field.html")
    data = {"strategy_type": "sma_cross", "codes": "", "start": "2024-13-01", "cash": "-5", "commission": "x",
            "title": "<b>&", "x_values": "a:b", "stop_loss_pct": "-1", "max_positions": "abc"}
    with translation.override(language):
        for form_class in (BacktestForm, SweepForm):
            form = form_class(data, user=user) if bound else form_class(user=user, initial=form_class.defaults())
            if bound:
                assert not form.is_valid()
            fields = _fields(form)
            assert any(field.errors for field in fields) == bound
            for field in fields:
                old = field_template.render({"field": field})
                new = Template("{% load backtest_rows %}{% field_block field %}").render(Context({"field": field}))
                assert new == old, field.name


@pytest.mark.parametrize("language", ["ko", "en"])
def test_field_block_writes_a_checkbox_as_the_field_template_does(language):
    from django import forms
    from django.template.loader import get_template

    class Ticks(forms.Form):
        agree = forms.BooleanField(label="I <agree> & go", help_text="Help & <more>")

    with translation.override(language):
        for form in (Ticks(), Ticks({})):
            form.is_valid()
            old = get_template("strategies/_field.html").render({"field": form["agree"]})
            new = Template("{% load backtest_rows %}{% field_block field %}").render(Context({"field": form["agree"]}))
            assert new == old
