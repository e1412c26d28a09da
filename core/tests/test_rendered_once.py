"""``{% rendered_once %}`` (core/templatetags/rendered_once.py) and the page chrome it keeps per process:
each template using it renders, byte for byte, what the same template without the tag renders, for
every combination of the keys it names and in both languages, on the first render and on those served
from the kept text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template, engines
from django.test import RequestFactory, override_settings
from django.utils import translation


TEMPLATES = Path(settings.BASE_DIR) / "templates"
TAG = re.compile(r"{% (end)?rendered_once[^%]*%}")
LOAD = re.compile(r"({% load [^%]*?) rendered_once")


def _without_tag(source: str) -> str:
    return TAG.sub("", LOAD.sub(r"\1", source))


def test_the_body_is_rendered_once_per_language_and_key():
    template = Template("{% load rendered_once %}{% rendered_once flag %}{{ flag }} {{ other }}{% endrendered_once %}")
    with translation.override("ko"):
        assert template.render(Context({"flag": True, "other": "first"})) == "True first"
        assert template.render(Context({"flag": True, "other": "second"})) == "True first"  # kept
        assert template.render(Context({"flag": False, "other": "third"})) == "False third"
    with translation.override("en"):
        assert template.render(Context({"flag": True, "other": "fourth"})) == "True fourth"


def test_a_changed_setting_renders_afresh():
    template = Template("{% load rendered_once %}{% rendered_once %}{{ name }}{% endrendered_once %}")
    assert template.render(Context({"name": "a"})) == "a"
    with override_settings(SITE_NAME="changed"):
        assert template.render(Context({"name": "b"})) == "b"


def _page(path: str, user) -> object:
    request = RequestFactory().get(path)
    request.user = user
    request.session = {}
    return request


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["base.html", "notifications/_bell.html"])
def test_the_chrome_is_the_same_as_without_the_tag(name, user):
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    assert "rendered_once" in source
    kept, plain = engines["django"].from_string(source), engines["django"].from_string(_without_tag(source))
    cases = [(user, nav, theme, unread) for nav in ("markets", "plans", "settings", None)
             for theme in ("light", "dark", "system") for unread in (0, 1, 120)]
    cases += [(AnonymousUser(), None, "system", 0), (AnonymousUser(), "settings", "system", 0)]
    for language in ("ko", "en"):
        for who, nav, theme, unread in cases:
            if who.is_authenticated:
                who.theme, who.language = theme, language
            request = _page(f"/somewhere/?{theme}", who)
            context = {"nav": nav, "bell_unread": unread, "csrf_token": "token-" + theme}
            with translation.override(language):
                expected = plain.render(context, request)
                assert kept.render(context, request) == expected, (language, who, nav, theme, unread)
                assert kept.render(context, request) == expected
