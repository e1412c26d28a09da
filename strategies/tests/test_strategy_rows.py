"""The strategy list's rows and the universe summary written in Python
(``strategies.templatetags.strategy_rows``) are the markup the templates wrote: compared with the
templates they replaced (kept here verbatim), in both languages and another time zone, with text that
needs escaping in every user-given field."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.middleware.csrf import get_token
from django.template import engines
from django.test import RequestFactory
from django.utils import timezone, translation

from marketdata.models import Instrument, Market
from strategies import selectors
from strategies.models import Sizing
from strategies.tests.factories import StrategyFactory, WatchlistFactory

pytestmark = pytest.mark.django_db
NASTY = "a <b> & \"c\" 'd' {e}"
SUMMARY = """{% load i18n %}{% if strategy.watchlist %}<span class="badge">{% translate "Watchlist" %}</span> {{ strategy.watchlist.name }} <span class="muted">({{ strategy.watchlist.instruments.all|length }})</span>{% else %}{% with items=strategy.instruments.all %}{% for instrument in items|slice:":2" %}{{ instrument.name }}{% if not forloop.last %}, {% endif %}{% endfor %}{% if items|length > 2 %} <span class="muted">{% blocktranslate count more=items|length|add:"-2" %}and {{ more }} more{% plural %}and {{ more }} more{% endblocktranslate %}</span>{% endif %}{% endwith %}{% endif %}
"""

INDEX_ROWS = """{% load i18n humanize %}{% for strategy in strategies %}
    <tr data-testid="strategy-row" data-strategy-id="{{ strategy.pk }}">
      <td><a href="{% url 'strategies:edit' strategy.pk %}" data-testid="strategy-name">{{ strategy.name }}</a></td>
      <td>{{ strategy.strategy_type_label }}</td>
      <td>UNIVERSE</td>
      <td>{{ strategy.get_sizing_display }}{% if strategy.sizing == "fixed_krw" %} · {{ strategy.sizing_value|floatformat:0|intcomma }}{% translate "KRW" %}{% elif strategy.sizing == "pct_equity" %} · {{ strategy.sizing_value|floatformat:"-2" }}%{% endif %}</td>
      <td><time datetime="{{ strategy.updated_at|date:'c' }}">{{ strategy.updated_at|date:"Y-m-d H:i" }}</time></td>
      <td class="row-actions">
        <a href="{% url 'backtests:new' %}?strategy={{ strategy.pk }}" data-testid="backtest-row">{% translate "Backtest" %}</a>
        <a href="{% url 'strategies:edit' strategy.pk %}">{% translate "Edit" %}</a>
        <form method="post" action="{% url 'strategies:clone' strategy.pk %}">{% csrf_token %}<button class="link" data-testid="clone-row">{% translate "Clone" %}</button></form>
        <a href="{% url 'strategies:delete' strategy.pk %}" class="danger-link" data-testid="delete-row">{% translate "Delete" %}</a>
      </td>
    </tr>
  {% endfor %}"""

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=)"[^"]+"')
LANGUAGES = [("en", "UTC"), ("ko", "Asia/Seoul"), ("en", "America/New_York")]


def _strategies(user):
    Instrument.objects.create(code="999990", name=NASTY, market=Market.KOSPI)
    watchlist = WatchlistFactory(owner=user, name=NASTY, codes=["005930", "999990", "000660"])
    StrategyFactory(owner=user, name=NASTY, codes=["999990", "005930", "000660", "005380"],
                    sizing=Sizing.FIXED_KRW, sizing_value=Decimal("1234567.5"))
    StrategyFactory(owner=user, watchlist=watchlist, sizing=Sizing.PCT_EQUITY, sizing_value=Decimal("12.50"))
    StrategyFactory(owner=user, codes=["005930"], sizing=Sizing.PCT_EQUITY, sizing_value=Decimal("7.125"))
    StrategyFactory(owner=user, codes=["005930", "000660", "005380"])
    StrategyFactory(owner=user, codes=[])
    return list(selectors.strategy_list(user=user))


def _request(user):
    request = RequestFactory().get("/strategies/")
    request.user = user
    get_token(request)
    return request


@pytest.mark.parametrize(("language", "zone"), LANGUAGES)
def test_the_rows_are_the_template(user, language, zone):
    strategies, request = _strategies(user), _request(user)
    # the include the rows had, inlined: the summary template is gone
    old = INDEX_ROWS.replace("UNIVERSE", SUMMARY.replace("{% load i18n %}", ""))
    with translation.override(language), timezone.override(zone):
        django = engines["django"]
        written = django.from_string("{% load strategy_rows %}{% strategy_rows strategies %}").render(
            {"strategies": strategies}, request)
        expected = django.from_string(old).render({"strategies": strategies}, request)
    assert "clone-row" in expected and "badge" in expected and "1,234,568" in expected
    assert TOKEN.sub(r"\1", written) == TOKEN.sub(r"\1", expected)


@pytest.mark.parametrize(("language", "zone"), LANGUAGES)
def test_the_universe_summary_is_the_template(user, language, zone):
    strategies, request = _strategies(user), _request(user)
    with translation.override(language), timezone.override(zone):
        django = engines["django"]
        for strategy in strategies:
            written = django.from_string("{% load strategy_rows %}{% universe_summary strategy %}").render(
                {"strategy": strategy}, request)
            assert written == django.from_string(SUMMARY).render({"strategy": strategy}, request)
