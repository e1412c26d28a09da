"""The long tables of the backtest pages, rendered in Python: ``{% trade_rows %}`` (the trades
table of a run, 50 a page), ``{% run_rows %}`` (the history list, 25 a page) and ``{% signal_rows %}``
(the signal viewer, every signal of a run). With a ``{% translate %}``, a ``{% url %}`` and a dozen
filters per row they cost most of their pages' server time; here the labels are translated once per
table and the URLs are reversed once (the house pattern of ``trading/templatetags/live_rows.py``).

The markup is the one the row templates had, byte for byte (``backtests/tests/test_rows.py`` pins
it against them, in Korean and English): labels from ``{% translate %}`` go in as they are (the
templates did not escape them either), every value is escaped as ``{{ value }}`` escapes it.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, pgettext

from backtests import labels
from backtests.templatetags.backtest_format import DASH, krw, metric, pct, price, quantity, share, updown

register = template.Library()

_ID_MARK = "2147483647"  # an id no row has, replaced by each row's own in the reversed URL


def esc(value: Any) -> str:
    """``{{ value }}``: localized (numbers, dates) and escaped, without the lazy-text wrapper of
    ``conditional_escape`` (it runs for every cell)."""
    if isinstance(value, str):
        return value if hasattr(value, "__html__") else html.escape(value)
    if value is None:
        return "None"
    value = localize(value)
    return value if hasattr(value, "__html__") else html.escape(str(value))


def _url(name: str) -> str:
    """``{% url name pk %}`` with ``_ID_MARK`` for the id (reversed and escaped once)."""
    return esc(reverse(name, args=[int(_ID_MARK)]))


@register.simple_tag
def trade_rows(trades: Iterable[Mapping[str, Any]], names: Any, quantity_decimals: Any) -> SafeString:
    """The ``<tr>`` of each trade of ``_trades.html`` (a dict of ``RunResult.trades``)."""
    names = names if isinstance(names, dict) else {}
    decimals_of = quantity_decimals if isinstance(quantity_decimals, dict) else {}
    reasons = {code: esc(label) for code, label in labels.EXIT_REASONS.items()}
    parts: list[str] = []
    for trade in trades:
        symbol = trade["symbol"]
        reason, net_return, pnl = trade["exit_reason"], trade["net_return"], trade["pnl"]
        reason_label = reasons.get(reason) if isinstance(reason, str) else None
        if reason_label is None:
            reason_label = esc(labels.code_label(reason, "exit_reason"))
        parts.append(
            f'\n    <tr data-testid="trade-row">\n'
            f'      <th scope="row"><code>{esc(symbol)}</code> {esc(names.get(symbol) or "")}</th>\n'
            f'      <td>{esc(trade["entry_date"])}</td><td>{esc(price(trade["entry_price"], symbol))}</td>\n'
            f'      <td>{esc(trade["exit_date"] or DASH)}</td><td>{esc(price(trade["exit_price"], symbol))}</td>\n'
            f'      <td data-testid="trade-quantity">{esc(quantity(trade["shares"], decimals_of.get(symbol)))}</td>\n'
            f'      <td class="{updown(net_return)}" data-testid="trade-return" '
            f'data-value="{"" if net_return is None else esc(net_return)}">{esc(pct(net_return))}</td>\n'
            f'      <td class="{updown(pnl)}">{esc(krw(pnl, "signed"))}</td>\n'
            f'      <td>{esc(trade["holding_days"])}</td>\n'
            f'      <td data-testid="exit-reason" data-code="{esc(reason)}">{reason_label}</td>\n'
            f'    </tr>\n  '
        )
    return mark_safe("".join(parts))


def _minute(moment: dt.datetime) -> str:
    """``{{ moment|date:"Y-m-d H:i" }}`` of an aware datetime already in the user's time zone."""
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}"


@register.simple_tag
def run_rows(runs: Iterable[Any], type_labels: Mapping[str, Any], compare_with: Any = None) -> SafeString:
    """The ``<tr>`` of each ``BacktestRun`` of the history list (``index.html``); ``compare_with``
    is the id (text) whose box starts checked."""
    from backtests.models import BacktestRun

    label = {name: gettext(name) for name in ("Compare", "Symbols", "Status", "Return", "MDD", "Sharpe",
                                              "Win rate", "Trades", "Delete")}
    label["CAGR"] = pgettext("short metric label", "CAGR")
    statuses = {value: esc(str(text)) for value, text in BacktestRun._meta.get_field("status").flatchoices}
    types = {key: esc(str(text)) for key, text in type_labels.items() if text}
    detail_url, delete_url = _url("backtests:detail"), _url("backtests:delete")
    parts: list[str] = []
    for run in runs:
        pk = str(run.pk)
        codes = run.codes
        shown = " ".join(esc(code) for code in codes[:3])
        more = f" +{len(codes) - 3}" if len(codes) > 3 else ""
        created = run.created_at
        if created is not None and settings.USE_TZ and timezone.is_aware(created):
            created = timezone.localtime(created)  # what the ``date`` filter formats
        checked = " checked" if compare_with == pk else ""
        kind = types.get(run.strategy_type) or esc(run.strategy_type)
        status = run.status
        delete = (f'<a href="{delete_url.replace(_ID_MARK, pk)}" class="danger-link" data-testid="delete-row">'
                  f'{label["Delete"]}</a>') if run.is_final else ""
        parts.append(
            f'\n    <tr data-testid="run-row" data-run-id="{pk}">\n'
            f'      <td class="cell-select"><input type="checkbox" name="ids" value="{pk}" '
            f'aria-label="{label["Compare"]} #{pk}"{checked}></td>\n'
            f'      <th scope="row" class="cell-title"><a href="{detail_url.replace(_ID_MARK, pk)}">'
            f'{esc(run.title)}</a> '
            f'<small class="muted">#{pk} · {kind}</small></th>\n'
            f'      <td class="cell-wide" data-label="{label["Symbols"]}">{shown}{more}</td>\n'
            f'      <td class="cell-status" data-label="{label["Status"]}"><span class="badge status-{esc(status)}" '
            f'data-testid="status-badge">{statuses.get(status) or esc(run.get_status_display())}</span></td>\n'
            f'      <td class="{updown(run.total_return)}" data-label="{label["Return"]}">'
            f'{pct(run.total_return)}</td>\n'
            f'      <td class="{updown(run.cagr)}" data-label="{label["CAGR"]}">{pct(run.cagr)}</td>\n'
            f'      <td data-label="{label["MDD"]}">{pct(run.max_drawdown)}</td>\n'
            f'      <td data-label="{label["Sharpe"]}">{metric(run.sharpe, "ratio")}</td>\n'
            f'      <td data-label="{label["Win rate"]}">{share(run.win_rate)}</td>\n'
            f'      <td data-label="{label["Trades"]}">{DASH if run.trades is None else esc(run.trades)}</td>\n'
            f'      <td class="cell-meta cell-wide"><time datetime="{"" if created is None else created.isoformat()}">'
            f'{"" if created is None else _minute(created)}</time></td>\n'
            f'      <td class="row-actions cell-meta">{delete}</td>\n'
            f'    </tr>\n  '
        )
    return mark_safe("".join(parts))


@register.simple_tag
def signal_rows(signals: Iterable[Mapping[str, Any]]) -> SafeString:
    """The ``<tr>`` of each signal of the viewer (``_signals.html``; ``name`` set by the view)."""
    buy, sell = gettext("Buy"), gettext("Sell")
    parts: list[str] = []
    for signal in signals:
        symbol = esc(signal["symbol"])
        entry = signal["type"] == "entry"
        parts.append(
            f'\n      <tr data-testid="signal-row" data-symbol="{symbol}"><td>{esc(signal["date"])}</td>'
            f'<td><code>{symbol}</code> {esc(signal["name"])}</td>\n'
            f'        <td class="{"up" if entry else "down"}">{buy if entry else sell}</td>\n'
            f'        <td>{esc(price(signal["price"], signal["symbol"]))}</td></tr>\n    '
        )
    return mark_safe("".join(parts))


@register.simple_tag
def field_block(field: Any) -> SafeString:
    """``{% include "strategies/_field.html" %}`` of one bound field (without ``extra_class``, which
    the backtest forms never pass): the same markup, without a template render per field (the
    backtest and sweep forms have some 25 fields). ``test_rows`` pins it against that template."""
    errors = field.errors
    if field.widget_type == "checkbox":
        control = f'<label class="checkbox-label">{esc(field)} {esc(field.label)}</label>'
    else:
        control = f"{esc(field.label_tag())}{esc(field)}"
    auto_id = esc(field.auto_id)
    help_text = field.help_text
    helped = f'<p class="help" id="{auto_id}_helptext">{esc(help_text)}</p>' if help_text else ""
    said = ""
    if errors:
        said = (f'<div id="{auto_id}_error">'
                + "".join(f'<p class="field-error" data-testid="field-error">{esc(error)}</p>' for error in errors)
                + "</div>")
    return mark_safe(f'<div class="field{" has-error" if errors else ""}" data-field="{esc(field.name)}">\n'
                     f"  {control}\n  {helped}\n  {said}\n</div>\n")
