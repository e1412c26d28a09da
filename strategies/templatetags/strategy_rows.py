"""The strategy list's rows and a strategy's universe summary, rendered in Python:
``{% strategy_rows strategies %}`` (the list page) and ``{% universe_summary strategy %}`` (the list
and the dashboard). Through an ``{% include %}``, ``{% url %}`` and ``{% translate %}`` per row they
cost most of those pages' server time; here labels are translated and URLs reversed once per table.

The markup is the one the templates had, byte for byte (``strategies/tests/test_strategy_rows.py``
pins it; the browser tests read its ``data-testid`` attributes): labels go in as ``{% translate %}``
gave them, every value is escaped like ``{{ value }}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

from trading.templatetags.live_rows import esc

register = template.Library()

_ID_MARK = "2147483647"  # an id no row has, replaced by each row's own in the reversed URL


def _url(name: str) -> str:
    return esc(reverse(name, args=[int(_ID_MARK)]))


def _summary(strategy: Any, watchlist_label: str) -> str:
    """What ``strategies/_universe_summary.html`` wrote for ``strategy`` (the file's last newline included)."""
    watchlist = strategy.watchlist
    if watchlist:
        count = len(watchlist.instruments.all())
        return f'<span class="badge">{watchlist_label}</span> {esc(watchlist.name)} <span class="muted">({count})</span>\n'
    items = list(strategy.instruments.all())
    text = ", ".join(esc(instrument.name) for instrument in items[:2])
    if len(items) > 2:
        more = len(items) - 2
        phrase = ngettext("and %(more)s more", "and %(more)s more", more) % {"more": esc(localize(more))}
        text += f' <span class="muted">{phrase}</span>'
    return text + "\n"


@register.simple_tag
def universe_summary(strategy: Any) -> SafeString:
    """A strategy's universe in a few words: its watchlist, or its first instruments."""
    return mark_safe(_summary(strategy, gettext("Watchlist")))


def _sizing(strategy: Any, krw: str) -> str:
    text = esc(strategy.get_sizing_display())
    if strategy.sizing == "fixed_krw":
        text += f" · {esc(intcomma(floatformat(strategy.sizing_value, 0)))}{krw}"
    elif strategy.sizing == "pct_equity":
        text += f' · {esc(floatformat(strategy.sizing_value, "-2"))}%'
    return text


def _local(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    return moment.astimezone(zone) if moment.utcoffset() is not None else moment


@register.simple_tag(takes_context=True)
def strategy_rows(context: template.Context, strategies: Iterable[Any]) -> SafeString:
    """The ``<tr>`` of each strategy of the list page."""
    watchlist_label, krw = gettext("Watchlist"), gettext("KRW")
    backtest, edit, clone, delete = gettext("Backtest"), gettext("Edit"), gettext("Clone"), gettext("Delete")
    token = context.get("csrf_token")
    csrf = (f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(token)}">'
            if token and token != "NOTPROVIDED" else "")
    edit_url, clone_url, delete_url = _url("strategies:edit"), _url("strategies:clone"), _url("strategies:delete")
    new_backtest = esc(reverse("backtests:new"))
    zone = timezone.get_current_timezone()
    parts: list[str] = []
    for strategy in strategies:
        pk = str(strategy.pk)
        edit_pk = edit_url.replace(_ID_MARK, pk)
        updated = _local(strategy.updated_at, zone)
        parts.append(
            f'\n    <tr data-testid="strategy-row" data-strategy-id="{pk}">\n'
            f'      <td><a href="{edit_pk}" data-testid="strategy-name">{esc(strategy.name)}</a></td>\n'
            f'      <td>{esc(strategy.strategy_type_label)}</td>\n'
            f'      <td>{_summary(strategy, watchlist_label)}</td>\n'
            f'      <td>{_sizing(strategy, krw)}</td>\n'
            f'      <td><time datetime="{updated.isoformat()}">{updated:%Y-%m-%d %H:%M}</time></td>\n'
            '      <td class="row-actions">\n'
            f'        <a href="{new_backtest}?strategy={pk}" data-testid="backtest-row">{backtest}</a>\n'
            f'        <a href="{edit_pk}">{edit}</a>\n'
            f'        <form method="post" action="{clone_url.replace(_ID_MARK, pk)}">{csrf}'
            f'<button class="link" data-testid="clone-row">{clone}</button></form>\n'
            f'        <a href="{delete_url.replace(_ID_MARK, pk)}" class="danger-link" data-testid="delete-row">{delete}</a>\n'
            '      </td>\n'
            '    </tr>\n  ')
    return mark_safe("".join(parts))
