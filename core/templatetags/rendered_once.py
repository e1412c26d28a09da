"""``{% rendered_once key ... %}…{% endrendered_once %}``: a piece of a template rendered once per process.

The header, nav and footer of every page hold ~20 ``{% url %}``, ~40 ``{% translate %}`` and ~10
``{% static %}`` that give the same text on every request (~0.5 ms of CPU a page). The body of this
tag is rendered the first time with the page's context; its text is kept on the tag itself (so per
compiled template and place in it), keyed by the active language and the values of the keys given
(``{% rendered_once user.is_authenticated nav %}``).

The contract: the body depends on nothing but those keys, the language and what is fixed for the
life of the process (settings, URLs, static files' names, translations). Never put a user's data, a
CSRF token, a nonce or the request's address inside; keep them between two such tags. Key values must
be hashable and few (a flag, a theme, the nav item): a tag's texts are dropped when they grow past
:data:`LIMIT`, and every tag's whenever a setting changes (tests' ``override_settings``).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.core.signals import setting_changed
from django.template.base import FilterExpression, Node, NodeList
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

LIMIT = 64  # texts kept per tag
_generation = 0  # bumped when a setting changes: every tag starts afresh


def clear(**_: Any) -> None:
    global _generation
    _generation += 1


setting_changed.connect(clear, dispatch_uid="core.rendered_once.clear")


class RenderedOnceNode(Node):
    """Keeps its texts on itself: they live as long as the compiled template (the cached loader's)."""

    def __init__(self, nodelist: NodeList, keys: list[FilterExpression]) -> None:
        self.nodelist = nodelist
        self.keys = keys
        self.rendered: dict[tuple[Any, ...], SafeString] = {}
        self.generation = _generation

    def render(self, context: template.Context) -> SafeString:
        if self.generation != _generation:
            self.rendered, self.generation = {}, _generation
        key = (get_language(), *(expression.resolve(context) for expression in self.keys))
        html = self.rendered.get(key)
        if html is None:
            html = mark_safe(self.nodelist.render(context))  # noqa: S308 - rendered by the template engine
            if len(self.rendered) >= LIMIT:
                self.rendered = {}
            self.rendered[key] = html
        return html


@register.tag("rendered_once")
def do_rendered_once(parser: template.base.Parser, token: template.base.Token) -> RenderedOnceNode:
    keys = [parser.compile_filter(bit) for bit in token.split_contents()[1:]]
    nodelist = parser.parse(("endrendered_once",))
    parser.delete_first_token()
    return RenderedOnceNode(nodelist, keys)
