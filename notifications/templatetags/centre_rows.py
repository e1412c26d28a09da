"""The notification centre's list rendered in Python: ``{% notification_rows page_obj %}``. Through
the template, a ``{% url %}``, a ``{% csrf_token %}`` and a ``{% translate %}`` per row cost most of
the page's server time; here the labels are translated once, the read URL reversed once.

The markup is the one the row template had, byte for byte (``notifications/tests/test_centre_rows.py`` pins it;
the browser tests read its ``data-testid`` and ``data-*`` attributes): labels go in as
``{% translate %}`` gave them, every value is escaped like ``{{ value }}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from trading.templatetags.live_rows import esc

register = template.Library()

_ID_MARK = "2147483647"  # an id no row has, replaced by each row's own in the reversed URL


def _local(moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """What the ``date`` filter formats: an aware datetime in the user's time zone."""
    return moment.astimezone(zone) if moment.utcoffset() is not None else moment


@register.simple_tag(takes_context=True)
def notification_rows(context: template.Context, notifications: Iterable[Any]) -> SafeString:
    """The ``<li>`` of each notification of the centre's list (a page of ``Notification`` rows)."""
    critical = f'<span class="badge notif-critical">{gettext("Critical")}</span>'
    unread = f'<span class="visually-hidden">{gettext("Unread")}</span>'
    mark_read = gettext("Mark read")
    token = context.get("csrf_token")
    csrf = (f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(token)}">'
            if token and token != "NOTPROVIDED" else "")
    read_url = esc(reverse("notifications:centre_read", args=[int(_ID_MARK)]))
    next_path = esc(context["request"].get_full_path())
    zone = timezone.get_current_timezone()
    parts: list[str] = []
    for n in notifications:
        is_read = n.read_at is not None
        url = read_url.replace(_ID_MARK, str(n.pk))
        title = esc(n.title)
        if n.link:
            heading = (f'\n        <form method="post" action="{url}" class="inline">{csrf}\n'
                       '          <input type="hidden" name="open" value="1">\n'
                       f'          <button type="submit" class="link notif-open" data-testid="notification-open">{title}</button>\n'
                       '        </form>\n        ')
        else:
            heading = f"<strong>{title}</strong>"
        created = _local(n.created_at, zone)
        action = "" if is_read else (
            f'\n    <form method="post" action="{url}" class="notif-action">{csrf}\n'
            f'      <input type="hidden" name="next" value="{next_path}">\n'
            f'      <button type="submit" class="link" data-testid="mark-read">{mark_read}</button>\n'
            '    </form>\n    ')
        parts.append(
            f'\n  <li class="notif-item level-{esc(n.level)}{"" if is_read else " is-unread"}" data-testid="notification"'
            f' data-kind="{esc(n.kind)}" data-read="{"true" if is_read else "false"}">\n'
            '    <span class="notif-dot" aria-hidden="true"></span>\n'
            '    <div class="notif-main">\n'
            '      <div class="notif-title">\n'
            f'        {heading}\n'
            f'        {critical if n.level == "critical" else ""}\n'
            f'        {"" if is_read else unread}\n'
            '      </div>\n'
            f'      {f"<p class={chr(34)}notif-body{chr(34)}>{esc(n.body)}</p>" if n.body else ""}\n'
            f'      <p class="notif-meta muted small"><time datetime="{created.isoformat()}">'
            f'{created:%Y-%m-%d %H:%M}</time></p>\n'
            '    </div>\n'
            f'    {action}\n'
            '  </li>\n  ')
    return mark_safe("".join(parts))
