"""The centre list written in Python (``notifications.templatetags.centre_rows``) is the markup the
row template wrote: compared with the template it replaced (kept here verbatim), in both languages and
another time zone, with text that needs escaping in every field."""

from __future__ import annotations

import re

import pytest
from django.middleware.csrf import get_token
from django.template import engines
from django.test import RequestFactory
from django.utils import timezone, translation

from notifications.models import Notification
from notifications.templatetags.centre_rows import notification_rows
from notifications.tests.centre_factories import notification

pytestmark = pytest.mark.django_db
NASTY = "a <b> & \"c\" 'd' {e}"

ROWS = """{% load i18n %}{% for n in page_obj %}
  <li class="notif-item level-{{ n.level }}{% if not n.is_read %} is-unread{% endif %}" data-testid="notification" data-kind="{{ n.kind }}" data-read="{{ n.is_read|yesno:'true,false' }}">
    <span class="notif-dot" aria-hidden="true"></span>
    <div class="notif-main">
      <div class="notif-title">
        {% if n.link %}
        <form method="post" action="{% url 'notifications:centre_read' n.pk %}" class="inline">{% csrf_token %}
          <input type="hidden" name="open" value="1">
          <button type="submit" class="link notif-open" data-testid="notification-open">{{ n.title }}</button>
        </form>
        {% else %}<strong>{{ n.title }}</strong>{% endif %}
        {% if n.level == "critical" %}<span class="badge notif-critical">{% translate "Critical" %}</span>{% endif %}
        {% if not n.is_read %}<span class="visually-hidden">{% translate "Unread" %}</span>{% endif %}
      </div>
      {% if n.body %}<p class="notif-body">{{ n.body }}</p>{% endif %}
      <p class="notif-meta muted small"><time datetime="{{ n.created_at|date:'c' }}">{{ n.created_at|date:"Y-m-d H:i" }}</time></p>
    </div>
    {% if not n.is_read %}
    <form method="post" action="{% url 'notifications:centre_read' n.pk %}" class="notif-action">{% csrf_token %}
      <input type="hidden" name="next" value="{{ request.get_full_path }}">
      <button type="submit" class="link" data-testid="mark-read">{% translate "Mark read" %}</button>
    </form>
    {% endif %}
  </li>
  {% endfor %}"""

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=)"[^"]+"')


@pytest.mark.parametrize(("language", "zone"), [("en", "UTC"), ("ko", "Asia/Seoul"), ("en", "America/New_York")])
def test_the_rows_are_the_template(user, language, zone):
    notification(user, title=NASTY, body=NASTY, link="/trading/orders/1/", level="critical")
    notification(user, title=NASTY, read=True, kind=NASTY, level="<b&\"'>{e}")  # a level holds 10 characters
    notification(user, title="plain", body="", link="", read=True)
    notification(user, title="plain unread", link="")
    rows = list(Notification.objects.filter(owner=user).order_by("-created_at", "-id"))
    request = RequestFactory().get("/notifications/", {"category": NASTY, "page": "2"})
    request.user = user
    get_token(request)
    with translation.override(language), timezone.override(zone):
        django = engines["django"]
        written = django.from_string("{% load centre_rows %}{% notification_rows rows %}").render({"rows": rows}, request)
        expected = django.from_string(ROWS).render({"page_obj": rows}, request)
    assert "notif-critical" in expected and "mark-read" in expected and "notification-open" in expected
    assert TOKEN.sub(r"\1", written) == TOKEN.sub(r"\1", expected)


def test_the_rows_skip_the_token_without_one(user):
    notification(user, title="x")
    html = notification_rows({"request": RequestFactory().get("/notifications/")}, Notification.objects.all())
    assert "csrfmiddlewaretoken" not in html and 'data-testid="mark-read"' in html
