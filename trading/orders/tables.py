"""The long tables of the order pages rendered in Python: the order list's rows (50 a page) and the
잔고 page's positions and fills (up to ``FILLS_SHOWN`` rows).

Django's template engine spends ~0.3-0.5 ms on one such row (a lookup, a localisation and an escape
per cell, a ``{% url %}``, ``{% translate %}`` and ``{% csrf_token %}`` each time); these functions
write the same markup (cells, links, translations, ``data-testid`` attributes) in some 20
microseconds a row: the labels are translated and put in once a table (unescaped, as
``{% translate "literal" %}`` writes them), links are a reversed prefix plus the id, numbers go
through the same ``trading_format`` filters (whose output is digits and signs: nothing to escape)
and every other value is escaped as ``{{ value }}`` escapes it.
A change of markup here is a change of the page: ``trading/orders/tests/test_tables.py`` pins it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape as _html_escape
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext

from trading.orders.models import Fill, Order, OrderSide
from trading.orders.portfolio import PositionRow
from trading.templatetags.trading_format import direction, krw, percent, quantity, signed_krw

_ID = 2_147_483_647  # a placeholder id no real row has, replaced by each row's


def _e(value: Any) -> str:
    """``{{ value }}``'s escaping: Django's ``escape`` (``html.escape``) without its lazy-text wrapper,
    which costs more than the escape (a table has thousands)."""
    return value if hasattr(value, "__html__") else _html_escape(str(value))


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _with_labels(markup: str, **labels: str) -> str:
    """``markup`` with the table's translated labels in, its other ``{fields}`` left for each row."""
    return markup.format_map(_Keep({key: text.replace("{", "{{").replace("}", "}}") for key, text in labels.items()}))


def _url_by_id(name: str) -> Callable[[int], str]:
    """``{% url name pk %}`` for many ``pk``: reversed (and escaped) once, the id put in by string."""
    head, _, tail = _e(reverse(name, args=[_ID])).rpartition(str(_ID))
    return lambda pk: f"{head}{pk}{tail}"


def _csrf_input(request: HttpRequest) -> SafeString:
    """What ``{% csrf_token %}`` writes (one masked token for the page's forms)."""
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))


def _side_labels() -> dict[str, str]:
    return {value: _e(label) for value, label in OrderSide.choices}


# -- 주문: the order list --------------------------------------------------------------------------
ORDER_ROW = (
    '\n    <tr data-testid="order-row" data-order-id="{pk}" data-state="{state}" class="{row_class}">'
    '\n      <th scope="row" class="cell-title"><a href="{detail}" data-testid="order-link">{name}</a>'
    ' <span class="muted small">{symbol} · #{pk}</span></th>'
    '\n      <td data-label="{t_side}"><span class="side-{side}">{side_label}</span>'
    ' <span class="muted small">{type_label}</span></td>'
    '\n      <td data-label="{t_quantity}">{quantity}</td>'
    '\n      <td data-label="{t_price}">{price}</td>'
    '\n      <td data-label="{t_filled}" data-testid="order-filled">{filled}</td>'
    '\n      <td data-label="{t_average}">{average}</td>'
    '\n      <td class="cell-wide" data-label="{t_state}">{badge}</td>'
    '\n      <td class="cell-meta" data-label="{t_account}">{account}</td>'
    '\n      <td class="cell-meta"><time datetime="{created_iso}">{created}</time></td>'
    '\n      <td class="row-actions">{cancel}</td>'
    '\n    </tr>\n  ')
CANCEL_FORM = ('<form method="post" action="{action}" data-confirm="{confirm}">{csrf}'
               '<input type="hidden" name="next" value="{next}"><button type="submit" class="link danger-link"'
               ' data-testid="cancel-order">{t_cancel}</button></form>')


def order_rows_html(*, request: HttpRequest, rows: Iterable[dict[str, Any]]) -> SafeString:
    """The ``<tr>`` of each order list row (``{"order", "name", "can_cancel", "type_label"}``)."""
    markup = _with_labels(ORDER_ROW, t_side=gettext("Side"), t_quantity=gettext("Quantity"), t_price=gettext("Price"),
                          t_filled=gettext("Filled quantity"), t_average=gettext("Average fill"),
                          t_state=gettext("State"), t_account=gettext("Account"))
    market = f'<span class="muted">{pgettext("order type", "Market")}</span>'
    cancel_form = _with_labels(CANCEL_FORM, t_cancel=gettext("Cancel order"), next=_e(request.get_full_path()))
    confirm = gettext("Cancel order #%(id)s?")  # as {% blocktranslate %} writes it: the message unescaped
    detail_url, cancel_url = _url_by_id("trading:order_detail"), _url_by_id("trading:order_cancel")
    sides, badges = _side_labels(), _StateBadges()
    csrf = ""
    html = []
    for row in rows:
        order: Order = row["order"]
        cancel = ""
        if row["can_cancel"]:
            csrf = csrf or _csrf_input(request)
            cancel = cancel_form.format(action=cancel_url(order.pk), csrf=csrf, confirm=confirm % {"id": order.pk})
        local = timezone.localtime(order.created_at)
        html.append(markup.format(
            pk=order.pk, state=_e(order.state), detail=detail_url(order.pk),
            row_class=("is-external " if order.external else "") + ("is-unknown" if order.state == "unknown" else ""),
            name=_e(row["name"] or order.symbol), symbol=_e(order.symbol), side=_e(order.side),
            side_label=sides.get(order.side) or _e(order.side), type_label=_e(row["type_label"]),
            quantity=quantity(order.quantity), price=market if order.price is None else quantity(order.price),
            filled=quantity(order.filled_quantity), average=quantity(order.average_fill_price),
            badge=badges.of(order), account=_e(order.account.nickname), created_iso=local.isoformat(),
            created=f"{local:%m-%d %H:%M:%S}", cancel=cancel))
    return mark_safe("".join(html))


class _StateBadges:
    """``trading/orders/_state_badge.html`` (shared with the order page), rendered once per kind of
    badge on the page rather than once a row."""

    def __init__(self) -> None:
        self.template = get_template("trading/orders/_state_badge.html")
        self.rendered: dict[tuple[str, bool, str], str] = {}

    def of(self, order: Order) -> SafeString:
        key = (order.state, order.external, order.flag)
        if key not in self.rendered:
            self.rendered[key] = self.template.render({"order": order})
        return mark_safe(self.rendered[key])


# -- 잔고: positions and fills ----------------------------------------------------------------------
POSITION_ROW = (
    '\n    <tr data-testid="position" data-symbol="{symbol}"{row_class}>'
    '\n      <th scope="row" class="cell-title"><a href="{market_url}">{name}</a>'
    ' <span class="muted small">{symbol}</span>'
    '\n        {mismatch}</th>'
    '\n      <td data-label="{t_quantity}" data-testid="position-quantity">{quantity}</td>'
    '\n      <td data-label="{t_average}" data-testid="position-average">{average}</td>'
    '\n      <td data-label="{t_last}" class="{last_class}" data-live-price="{symbol}"'
    ' data-testid="position-last">{last}</td>'
    '\n      <td data-label="{t_value}">{value}</td>'
    '\n      <td data-label="{t_unrealized}" class="{unrealized_class}"'
    ' data-testid="position-unrealized">{unrealized}</td>'
    '\n      <td data-label="%" class="{unrealized_class}">{unrealized_percent}</td>'
    '\n      <td data-label="{t_realized}" class="{realized_class}" data-testid="position-realized">{realized}</td>'
    '\n      <td data-label="{t_today}" class="{today_class}" data-testid="position-today">{today}</td>'
    '\n      <td class="row-actions">{action}</td>'
    '\n    </tr>\n  ')
MISMATCH_BADGE = ('<br><span class="badge mismatch" data-testid="mismatch-badge" title="{note}">{t_differs}</span>'
                  ' <span class="muted small">{broker}</span>')
RESOLVE_FORM = (
    '\n        <details class="resolve" data-testid="resolve">'
    '\n          <summary>{t_accept_figures}</summary>'
    '\n          <form method="post" action="{action}" data-confirm="{t_replace}">'
    '\n            {csrf}'
    '\n            <label for="resolve-{pk}">{t_why}</label>'
    '\n            <input id="resolve-{pk}" name="reason" maxlength="500" required placeholder="{t_example}"'
    ' data-testid="resolve-reason">'
    '\n            <button type="submit" class="button small" data-testid="resolve-submit">{t_accept}</button>'
    '\n          </form>'
    '\n        </details>'
    '\n        ')
SELL_LINK = ('<a href="{ticket}?account={account}&amp;symbol={symbol}&amp;side=sell"'
             ' data-testid="sell-link">{t_sell}</a>')


def position_rows_html(*, request: HttpRequest, account_id: int, rows: Iterable[PositionRow]) -> SafeString:
    """The ``<tr>`` of each row of the positions table (``portfolio.position_rows``)."""
    markup = _with_labels(POSITION_ROW, t_quantity=gettext("Quantity"), t_average=gettext("Average cost"),
                          t_last=gettext("Last price"), t_value=gettext("Market value"),
                          t_unrealized=gettext("Unrealised P&L"), t_realized=gettext("Realised P&L"),
                          t_today=gettext("Today's P&L"))
    sell_link = _with_labels(SELL_LINK, ticket=_e(reverse("trading:order_ticket")), account=str(account_id),
                             t_sell=gettext("Sell"))
    html = []
    for row in rows:
        position, symbol, unrealized = row.position, _e(row.symbol), row.unrealized
        if position.mismatch:
            mismatch = _mismatch_badge(position.mismatch_note, position.broker_quantity)
            action = _resolve_form(request, position.pk)
        else:
            mismatch, action = "", sell_link.format(symbol=symbol) if position.quantity else ""
        html.append(markup.format(
            symbol=symbol, row_class=' class="is-mismatch"' if position.mismatch else "",
            market_url=_e(reverse("marketdata:detail", args=[row.symbol])), name=_e(row.name or row.symbol),
            mismatch=mismatch, quantity=quantity(position.quantity), average=krw(position.average_cost),
            last_class=direction(row.change_percent), last=quantity(row.last), value=krw(row.market_value),
            unrealized_class=direction(unrealized), unrealized=signed_krw(unrealized),
            unrealized_percent=percent(row.unrealized_percent), realized_class=direction(position.realized_pnl),
            realized=signed_krw(position.realized_pnl), today_class=direction(row.today_pnl),
            today=signed_krw(row.today_pnl), action=action))
    return mark_safe("".join(html))


def _mismatch_badge(note: str, broker_quantity: Any) -> str:
    # "Broker: …" as {% blocktranslate with quantity=…|quantity %} writes it: the message unescaped
    broker = gettext("Broker: %(quantity)s") % {"quantity": _e(quantity(broker_quantity))}
    return _with_labels(MISMATCH_BADGE, t_differs=gettext("Differs from the broker"), broker=broker).format(
        note=_e(note))


def _resolve_form(request: HttpRequest, pk: int) -> str:
    """A mismatched position's form accepting the broker's figures (rare: put together as met)."""
    return _with_labels(
        RESOLVE_FORM, t_accept_figures=gettext("Accept the broker's figures"),
        t_replace=gettext("Replace this position with the broker's quantity and average price?"),
        t_why=gettext("Why are the broker's figures right?"),
        t_example=gettext("e.g. shares moved in from another account"), t_accept=gettext("Accept"),
    ).format(pk=pk, action=_e(reverse("trading:position_resolve", args=[pk])), csrf=_csrf_input(request))


FILL_ROW = (
    '\n      <tr data-testid="fill-row">'
    '\n        <th scope="row" class="cell-title">{name} <span class="muted small">{symbol}</span></th>'
    '\n        <td data-label="{t_side}" class="side-{side}">{side_label}</td>'
    '\n        <td data-label="{t_quantity}">{quantity}</td>'
    '\n        <td data-label="{t_price}">{price}</td>'
    '\n        <td data-label="{t_value}">{value}</td>'
    '\n        <td data-label="{t_commission}">{commission}</td>'
    '\n        <td data-label="{t_tax}">{tax}</td>'
    '\n        <td class="cell-meta cell-wide"><time datetime="{filled_iso}">{filled}</time></td>'
    '\n        <td class="cell-meta"><a href="{order_url}">#{order_id}</a></td>'
    '\n      </tr>\n    ')


def fill_rows_html(*, fills: Iterable[tuple[Fill, str]]) -> SafeString:
    """The ``<tr>`` of each ``(fill, instrument name)`` of the fills table."""
    markup = _with_labels(FILL_ROW, t_side=gettext("Side"), t_quantity=gettext("Quantity"), t_price=gettext("Price"),
                          t_value=gettext("Value"), t_commission=gettext("Commission"), t_tax=gettext("Tax"))
    order_url, sides = _url_by_id("trading:order_detail"), _side_labels()
    html = []
    for fill, name in fills:
        local = timezone.localtime(fill.filled_at)
        html.append(markup.format(
            name=_e(name or fill.symbol), symbol=_e(fill.symbol), side=_e(fill.side),
            side_label=sides.get(fill.side) or _e(fill.side), quantity=quantity(fill.quantity),
            price=quantity(fill.price), value=krw(fill.value), commission=krw(fill.commission), tax=krw(fill.tax),
            filled_iso=local.isoformat(), filled=f"{local.year:04d}-{local:%m-%d %H:%M:%S}",
            order_url=order_url(fill.order_id), order_id=fill.order_id))
    return mark_safe("".join(html))
