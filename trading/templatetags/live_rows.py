"""The long tables of the deployment page, rendered in Python: ``{% signal_rows signals %}`` (the
signals of the day and the earlier ones) and ``{% drift_rows drift %}`` (the drift report, a row per
trade). Through an ``{% include %}`` per row and a ``{% translate %}`` per cell they cost most of the
page's server time; here the labels are translated once per table and the order URL is built once.

The markup is the one the row templates had, byte for byte (the browser tests and the live refresh
read its ``data-testid`` and ``data-*`` attributes): labels from ``{% translate %}`` go in as they
are (the templates did not escape them either), every value is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from typing import Any

from django import template
from django.db.models import Model
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from trading.templatetags.trading_format import krw, quantity, signed_krw

register = template.Library()

_ID_MARK = "2147483647"  # an id no row has, replaced by each row's own in the reversed URL


def _choice_labels(model: type[Model], name: str) -> dict[Any, str]:
    """What ``get_<name>_display`` answers, for each choice of the field (translated now)."""
    return {value: str(label) for value, label in model._meta.get_field(name).flatchoices}


def esc(value: Any) -> str:
    """``{{ value }}``'s escaping (``conditional_escape``) without its lazy-text wrapper, which costs
    more than the escape itself (it runs for every cell)."""
    return value if hasattr(value, "__html__") else html.escape(str(value))


def _order_url() -> str:
    """``{% url 'trading:order_detail' pk %}`` with ``_ID_MARK`` for the id (reversed and escaped once)."""
    return esc(reverse("trading:order_detail", args=[int(_ID_MARK)]))


def _in_zone(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """What the ``date`` filter formats: an aware datetime in the user's time zone."""
    return moment.astimezone(zone) if moment.utcoffset() is not None else moment


def _ymd(day: dt.date) -> str:
    """``{{ day|date:"Y-m-d" }}`` of a date."""
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


@register.simple_tag
def signal_rows(signals: Iterable[Any]) -> SafeString:
    """The ``<tr>`` of each ``DeploymentSignal`` of the signals table (``symbol_name`` set by
    ``overview.signals_of_day``; the symbol alone without it)."""
    from trading.live.models import DeploymentSignal

    label = {"Time": gettext("Time"), "Side": gettext("Side"), "Quantity": gettext("Quantity"),
             "Price": gettext("Price"), "Guard": gettext("Guard"), "Outcome": gettext("Outcome"),
             "Buy": gettext("Buy"), "Sell": gettext("Sell"), "Awaiting the guard": gettext("Awaiting the guard")}
    order_label = gettext("Order #%(id)s")
    reasons = _choice_labels(DeploymentSignal, "reason")
    verdicts = _choice_labels(DeploymentSignal, "verdict")
    outcomes = _choice_labels(DeploymentSignal, "outcome")
    order_url = _order_url()
    zone = timezone.get_current_timezone()
    parts: list[str] = []
    for signal in signals:
        decided = _in_zone(signal.decided_at, zone)
        symbol, side, verdict, outcome = signal.symbol, signal.side, signal.verdict, signal.outcome
        moved = signal.quantity != signal.quantity_wanted
        wanted = f' <span class="muted small">/ {esc(quantity(signal.quantity_wanted))}</span>' if moved else ""
        guard = (f' <span class="small guard-message" data-testid="guard-message">{esc(signal.guard_message)}</span>'
                 if signal.guard_message else "")
        said = f' <span class="muted small">{esc(signal.outcome_message)}</span>' if signal.outcome_message else ""
        order = ""
        if signal.order_id:
            url = order_url.replace(_ID_MARK, str(signal.order_id))
            order = (f' <a href="{url}" data-testid="signal-order">'
                     f'{order_label % {"id": esc(localize(signal.order_id))}}</a>')
        parts.append(
            f'<tr data-testid="signal-row" data-symbol="{esc(symbol)}" data-verdict="{esc(verdict)}" '
            f'class="verdict-row-{esc(verdict)}">\n'
            f'  <th scope="row" class="cell-title">{esc(getattr(signal, "symbol_name", "") or symbol)} '
            f'<span class="muted small">{esc(symbol)}</span></th>\n'
            f'  <td data-label="{label["Time"]}" class="cell-meta"><time datetime="{decided.isoformat()}">'
            f'{decided.month:02d}-{decided.day:02d} {decided.hour:02d}:{decided.minute:02d}</time></td>\n'
            f'  <td data-label="{label["Side"]}"><span class="side-{esc(side)}">'
            f'{label["Buy"] if side == "buy" else label["Sell"]}</span> '
            f'<span class="muted small">{esc(reasons.get(signal.reason, signal.reason))}</span></td>\n'
            f'  <td data-label="{label["Quantity"]}">{esc(quantity(signal.quantity))}{wanted}</td>\n'
            f'  <td data-label="{label["Price"]}">{esc(quantity(signal.price))}</td>\n'
            f'  <td data-label="{label["Guard"]}" class="cell-wide"><span class="badge verdict '
            f'verdict-{esc(verdict or "pending")}" data-testid="signal-verdict">'
            f'{esc(verdicts.get(verdict, verdict)) if verdict else label["Awaiting the guard"]}</span>{guard}</td>\n'
            f'  <td data-label="{label["Outcome"]}" class="cell-wide"><span class="outcome outcome-{esc(outcome)}" '
            f'data-testid="signal-outcome">{esc(outcomes.get(outcome, outcome))}</span>{said}\n'
            f'    {order}</td>\n'
            f'</tr>\n')
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


@register.simple_tag
def drift_rows(drift: Any) -> SafeString:
    """The ``<tr>`` of each row of a ``DriftReport`` (``trading.live.drift``), the symbols named from
    ``drift.names``."""
    label = {"Symbol": gettext("Symbol"), "Side": gettext("Side"), "Drift": gettext("Drift"),
             "Backtest": gettext("Backtest"), "Actual fill": gettext("Actual fill"),
             "Slippage / share": gettext("Slippage / share"), "Slippage (KRW)": gettext("Slippage (KRW)"),
             "bps": gettext("bps"), "Why": gettext("Why"), "Buy": gettext("Buy"), "Sell": gettext("Sell"),
             "Blocked": gettext("Blocked")}
    kinds = {"matched": gettext("Matched"), "late": gettext("Late"), "missed": gettext("Missed"),
             "extra": gettext("Extra")}
    on_day = gettext("on %(day)s")
    names = drift.names or {}
    parts: list[str] = []
    for row in drift.rows:
        symbol, side, kind = row.symbol, row.side, row.kind
        name = names.get(symbol, "")
        named = f'{esc(name)} <span class="muted small">{esc(symbol)}</span>' if name else esc(symbol)
        engine = (f"{esc(quantity(row.engine_quantity))} × {esc(krw(row.engine_price))}"
                  if row.engine_quantity is not None else "–")
        if row.live_quantity is not None:
            live = f"{esc(quantity(row.live_quantity))} × {esc(krw(row.live_price))}"
            if row.live_day:
                live += f' <span class="muted small">({on_day % {"day": _ymd(row.live_day)}})</span>'
        else:
            live = "–"
        bps = row.slippage_bps
        day = _ymd(row.day)
        parts.append(
            f'\n      <tr data-testid="drift-row" data-kind="{esc(kind)}" data-symbol="{esc(symbol)}" '
            f'data-side="{esc(side)}" class="drift-{esc(kind)}">\n'
            f'        <th scope="row" class="cell-title"><time datetime="{day}">{day}</time></th>\n'
            f'        <td data-label="{label["Symbol"]}">{named}</td>\n'
            f'        <td data-label="{label["Side"]}"><span class="side-{esc(side)}">'
            f'{label["Buy"] if side == "buy" else label["Sell"]}</span></td>\n'
            f'        <td data-label="{label["Drift"]}"><span class="badge drift-kind drift-kind-{esc(kind)}">'
            f'{kinds.get(kind, label["Blocked"])}</span></td>\n'
            f'        <td data-label="{label["Backtest"]}">{engine}</td>\n'
            f'        <td data-label="{label["Actual fill"]}">{live}</td>\n'
            f'        <td data-label="{label["Slippage / share"]}" data-testid="drift-row-slippage">'
            f'{esc(signed_krw(row.slippage))}</td>\n'
            f'        <td data-label="{label["Slippage (KRW)"]}">{esc(signed_krw(row.slippage_value))}</td>\n'
            f'        <td data-label="{label["bps"]}" data-testid="drift-row-bps">'
            f'{"–" if bps is None else esc(localize(bps))}</td>\n'
            f'        <td data-label="{label["Why"]}" class="cell-wide small">{esc(row.why)}</td>\n'
            f'      </tr>')
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


BADGE_TEMPLATE = "trading/orders/_state_badge.html"


@register.simple_tag
def order_rows(orders: Iterable[Any]) -> SafeString:
    """The ``<tr>`` of each order of the deployment's orders table. The state badge is the order
    pages' own template, rendered once per (state, external, flag): the only fields it reads."""
    from trading.orders.models import Order

    badge_template = get_template(BADGE_TEMPLATE)
    badges: dict[tuple, str] = {}
    label = {"Side": gettext("Side"), "Quantity": gettext("Quantity"), "Filled quantity": gettext("Filled quantity"),
             "State": gettext("State")}
    sides = _choice_labels(Order, "side")
    order_url = _order_url()
    zone = timezone.get_current_timezone()
    parts: list[str] = []
    for order in orders:
        shown = (order.state, order.external, order.flag)
        if shown not in badges:
            badges[shown] = badge_template.render({"order": order})
        placed = _in_zone(order.created_at, zone)
        pk, side = str(order.pk), order.side
        parts.append(
            f'\n      <tr data-testid="order-row" data-order-id="{pk}" data-state="{esc(order.state)}">\n'
            f'        <th scope="row" class="cell-title"><a href="{order_url.replace(_ID_MARK, pk)}">'
            f'{esc(order.symbol)}</a> <span class="muted small">#{pk}</span></th>\n'
            f'        <td data-label="{label["Side"]}"><span class="side-{esc(side)}">'
            f'{esc(sides.get(side, side))}</span></td>\n'
            f'        <td data-label="{label["Quantity"]}">{esc(quantity(order.quantity))}</td>\n'
            f'        <td data-label="{label["Filled quantity"]}">{esc(quantity(order.filled_quantity))}</td>\n'
            f'        <td data-label="{label["State"]}" class="cell-wide">{badges[shown]}</td>\n'
            f'        <td class="cell-meta"><time datetime="{placed.isoformat()}">{placed.month:02d}-{placed.day:02d} '
            f'{placed.hour:02d}:{placed.minute:02d}:{placed.second:02d}</time></td>\n'
            f'      </tr>\n    ')
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped, the badge by its template
