"""The tables written in Python (``trading.orders.tables``) are the markup the templates wrote: each is
compared with the template it replaced (kept here verbatim), in both languages and another time
zone, with text that needs escaping in every user-given field."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.template import engines
from django.test import RequestFactory
from django.utils import timezone, translation

from core import clock
from trading.orders import portfolio, tables, views
from trading.orders.models import Fill, Order, Position

from .conftest import new_order

pytestmark = pytest.mark.django_db
D = Decimal
NASTY = 'a <b> & "c" \'d\' {e}'

ORDER_ROWS = """{% load i18n trading_format %}{% translate "Side" as t_side %}{% translate "Quantity" as t_quantity %}{% translate "Price" as t_price %}{% translate "Filled quantity" as t_filled %}{% translate "Average fill" as t_average %}{% translate "State" as t_state %}{% translate "Account" as t_account %}{% translate "Market" context "order type" as t_market %}{% translate "Cancel order" as t_cancel %}{% with next_path=request.get_full_path %}{% for row in rows %}{% with order=row.order %}
    <tr data-testid="order-row" data-order-id="{{ order.pk }}" data-state="{{ order.state }}" class="{% if order.external %}is-external {% endif %}{% if order.state == 'unknown' %}is-unknown{% endif %}">
      <th scope="row" class="cell-title"><a href="{% url 'trading:order_detail' order.pk %}" data-testid="order-link">{{ row.name|default:order.symbol }}</a> <span class="muted small">{{ order.symbol }} · #{{ order.pk }}</span></th>
      <td data-label="{{ t_side }}"><span class="side-{{ order.side }}">{{ order.get_side_display }}</span> <span class="muted small">{{ row.type_label }}</span></td>
      <td data-label="{{ t_quantity }}">{{ order.quantity|quantity }}</td>
      <td data-label="{{ t_price }}">{% if order.price is not None %}{{ order.price|quantity }}{% else %}<span class="muted">{{ t_market }}</span>{% endif %}</td>
      <td data-label="{{ t_filled }}" data-testid="order-filled">{{ order.filled_quantity|quantity }}</td>
      <td data-label="{{ t_average }}">{{ order.average_fill_price|quantity }}</td>
      <td class="cell-wide" data-label="{{ t_state }}">{% include "trading/orders/_state_badge.html" %}</td>
      <td class="cell-meta" data-label="{{ t_account }}">{{ order.account.nickname }}</td>
      <td class="cell-meta"><time datetime="{{ order.created_at|date:'c' }}">{{ order.created_at|date:"m-d H:i:s" }}</time></td>
      <td class="row-actions">{% if row.can_cancel %}<form method="post" action="{% url 'trading:order_cancel' order.pk %}" data-confirm="{% blocktranslate with id=order.pk %}Cancel order #{{ id }}?{% endblocktranslate %}">{% csrf_token %}<input type="hidden" name="next" value="{{ next_path }}"><button type="submit" class="link danger-link" data-testid="cancel-order">{{ t_cancel }}</button></form>{% endif %}</td>
    </tr>
  {% endwith %}{% endfor %}{% endwith %}"""

POSITION_ROWS = """{% load i18n trading_format %}{% for row in totals.rows %}{% with position=row.position %}
    <tr data-testid="position" data-symbol="{{ row.symbol }}"{% if position.mismatch %} class="is-mismatch"{% endif %}>
      <th scope="row" class="cell-title"><a href="{% url 'marketdata:detail' row.symbol %}">{{ row.name|default:row.symbol }}</a> <span class="muted small">{{ row.symbol }}</span>
        {% if position.mismatch %}<br><span class="badge mismatch" data-testid="mismatch-badge" title="{{ position.mismatch_note }}">{% translate "Differs from the broker" %}</span> <span class="muted small">{% blocktranslate with quantity=position.broker_quantity|quantity %}Broker: {{ quantity }}{% endblocktranslate %}</span>{% endif %}</th>
      <td data-label="{% translate 'Quantity' %}" data-testid="position-quantity">{{ position.quantity|quantity }}</td>
      <td data-label="{% translate 'Average cost' %}" data-testid="position-average">{{ position.average_cost|krw }}</td>
      <td data-label="{% translate 'Last price' %}" class="{{ row.change_percent|direction }}" data-live-price="{{ row.symbol }}" data-testid="position-last">{{ row.last|quantity }}</td>
      <td data-label="{% translate 'Market value' %}">{{ row.market_value|krw }}</td>
      <td data-label="{% translate 'Unrealised P&L' %}" class="{{ row.unrealized|direction }}" data-testid="position-unrealized">{{ row.unrealized|signed_krw }}</td>
      <td data-label="%" class="{{ row.unrealized|direction }}">{{ row.unrealized_percent|percent }}</td>
      <td data-label="{% translate 'Realised P&L' %}" class="{{ position.realized_pnl|direction }}" data-testid="position-realized">{{ position.realized_pnl|signed_krw }}</td>
      <td data-label="{% translate "Today's P&L" %}" class="{{ row.today_pnl|direction }}" data-testid="position-today">{{ row.today_pnl|signed_krw }}</td>
      <td class="row-actions">{% if position.mismatch %}
        <details class="resolve" data-testid="resolve">
          <summary>{% translate "Accept the broker's figures" %}</summary>
          <form method="post" action="{% url 'trading:position_resolve' position.pk %}" data-confirm="{% translate "Replace this position with the broker's quantity and average price?" %}">
            {% csrf_token %}
            <label for="resolve-{{ position.pk }}">{% translate "Why are the broker's figures right?" %}</label>
            <input id="resolve-{{ position.pk }}" name="reason" maxlength="500" required placeholder="{% translate 'e.g. shares moved in from another account' %}" data-testid="resolve-reason">
            <button type="submit" class="button small" data-testid="resolve-submit">{% translate "Accept" %}</button>
          </form>
        </details>
        {% elif position.quantity %}<a href="{% url 'trading:order_ticket' %}?account={{ account.pk }}&amp;symbol={{ row.symbol }}&amp;side=sell" data-testid="sell-link">{% translate "Sell" %}</a>{% endif %}</td>
    </tr>
  {% endwith %}{% endfor %}"""

FILL_ROWS = """{% load i18n trading_format %}{% for fill, name in fills %}
      <tr data-testid="fill-row">
        <th scope="row" class="cell-title">{{ name|default:fill.symbol }} <span class="muted small">{{ fill.symbol }}</span></th>
        <td data-label="{% translate 'Side' %}" class="side-{{ fill.side }}">{{ fill.get_side_display }}</td>
        <td data-label="{% translate 'Quantity' %}">{{ fill.quantity|quantity }}</td>
        <td data-label="{% translate 'Price' %}">{{ fill.price|quantity }}</td>
        <td data-label="{% translate 'Value' %}">{{ fill.value|krw }}</td>
        <td data-label="{% translate 'Commission' %}">{{ fill.commission|krw }}</td>
        <td data-label="{% translate 'Tax' %}">{{ fill.tax|krw }}</td>
        <td class="cell-meta cell-wide"><time datetime="{{ fill.filled_at|date:'c' }}">{{ fill.filled_at|date:"Y-m-d H:i:s" }}</time></td>
        <td class="cell-meta"><a href="{% url 'trading:order_detail' fill.order_id %}">#{{ fill.order_id }}</a></td>
      </tr>
    {% endfor %}"""

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=)"[^"]+"')


def _same(written: str, template: str, context: dict, request) -> None:
    expected = engines["django"].from_string(template).render(context, request)
    assert TOKEN.sub(r"\1", str(written)) == TOKEN.sub(r"\1", expected)


@pytest.fixture
def request_(user):
    request = RequestFactory().get("/trading/orders/", {"symbol": NASTY, "page": "2"})
    request.user = user
    return request


LANGUAGES = [("en", "UTC"), ("ko", "Asia/Seoul"), ("en", "America/New_York")]


@pytest.mark.parametrize(("language", "zone"), LANGUAGES)
def test_the_order_rows_are_the_templates(paper_account, request_, language, zone):
    paper_account.nickname = NASTY
    paper_account.save(update_fields=["nickname"])
    placed = [new_order(paper_account), new_order(paper_account, price=None, side="sell"),
              new_order(paper_account, quantity=7, symbol="000660"), new_order(paper_account, symbol="A<&>")]
    Order.objects.filter(pk=placed[1].pk).update(state="unknown", external=True, source="external", flag=NASTY)
    Order.objects.filter(pk=placed[2].pk).update(state="partially_filled", filled_quantity=D("2.5"),
                                                 average_fill_price=D("70100.5"), order_type="ioc_limit")
    Order.objects.filter(pk=placed[3].pk).update(state="filled", filled_quantity=3, average_fill_price=70_000)
    orders = list(Order.objects.filter(pk__in=[o.pk for o in placed]).only(*views.LIST_FIELDS).order_by("pk"))
    table = [{"order": order, "name": {"005930": "삼성전자", "000660": NASTY}.get(order.symbol, ""),
              "can_cancel": views.can_cancel(order), "type_label": views.type_label(order)} for order in orders]
    assert [row["can_cancel"] for row in table] == [True, True, True, False]
    with translation.override(language), timezone.override(zone):
        _same(tables.order_rows_html(request=request_, rows=table), ORDER_ROWS, {"rows": table}, request_)


@pytest.mark.parametrize(("language", "zone"), LANGUAGES)
def test_the_position_and_fill_rows_are_the_templates(paper_account, request_, user, language, zone):
    order = new_order(paper_account)
    Position.objects.create(account=paper_account, symbol="005930", quantity=10, cost=700_000, realized_pnl=-1234)
    Position.objects.create(account=paper_account, symbol="000660", quantity=D("0.5"), cost=10, mismatch=True,
                            broker_quantity=D("1.5"), mismatch_note=NASTY)
    Position.objects.create(account=paper_account, symbol="035720", quantity=0, realized_pnl=D("99.5"),
                            mismatch=True)
    for symbol, side in (("005930", "buy"), ("000660", "sell"), ("XYZ<&>", "buy")):
        Fill.objects.create(order=order, account=paper_account, fill_key=symbol, symbol=symbol, side=side,
                            quantity=D("1.25"), price=D("70000.5"), value=D("87500.625"), commission=D("12.5"),
                            tax=D("0.4"), cumulative_quantity=1, filled_at=clock.now())
    totals = portfolio.position_rows(user=user, account_id=paper_account.pk, now=clock.now())
    assert len(totals.rows) == 3 and {row.last is None for row in totals.rows} == {True, False}
    fills = [(fill, {"005930": "삼성전자", "000660": NASTY}.get(fill.symbol, "")) for fill in Fill.objects.all()]
    with translation.override(language), timezone.override(zone):
        _same(tables.position_rows_html(request=request_, account_id=paper_account.pk, rows=totals.rows),
              POSITION_ROWS, {"totals": totals, "account": paper_account}, request_)
        _same(tables.fill_rows_html(fills=fills), FILL_ROWS, {"fills": fills}, request_)
