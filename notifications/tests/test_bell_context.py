"""The header bell's unread count (notifications.centre_context.bell): counted only when a template
reads it, and the bell shows the same as it did with the count read up front."""

from __future__ import annotations

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from notifications.centre_context import bell


def _counts(queries: CaptureQueriesContext) -> int:
    return sum('FROM "notifications_notification"' in query["sql"] for query in queries.captured_queries)


@pytest.mark.django_db
def test_the_count_is_read_only_when_a_template_uses_it(user):
    request = RequestFactory().get("/")
    request.user = user
    with CaptureQueriesContext(connection) as queries:
        context = bell(request)
    assert _counts(queries) == 0
    with CaptureQueriesContext(connection) as queries:
        assert context["bell_unread"] == 0 and not context["bell_unread"]
    assert _counts(queries) == 1


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("unread", [0, 1, 2, 99, 100, 1234])
def test_the_bell_shows_a_lazy_count_as_it_showed_the_number(language, unread):
    with translation.override(language):
        expected = render_to_string("notifications/_bell.html", {"bell_unread": unread})
        lazy = render_to_string("notifications/_bell.html", {"bell_unread": SimpleLazyObject(lambda: unread)})
    assert lazy == expected


def test_the_announcements_are_read_only_when_a_template_uses_them(user, monkeypatch):
    from notifications import announcement_context

    reads = []
    monkeypatch.setattr(announcement_context, "active_announcements", lambda who: reads.append(who) or [])
    request = RequestFactory().get("/")
    request.user = user
    context = announcement_context.announcements(request)
    assert reads == []
    assert not context["announcements"] and list(context["announcements"]) == [] and reads == [user]
