"""The API's JSON parser: DRF's, with a size and a nesting limit, so a hostile body is a 4xx, not a 500.

``json`` recurses once per nesting level: a body of 10,000 ``[`` raises ``RecursionError``, which DRF
does not catch. Nothing the API takes is nested deeper than a few levels (a strategy's ``params``
is two), so anything beyond :data:`MAX_JSON_DEPTH` is refused as ``too_deep``. When Django has not
read the body yet DRF streams it to the parser without the ``DATA_UPLOAD_MAX_MEMORY_SIZE`` check,
so the parser reads at most that many bytes itself and refuses more as ``too_large`` (413).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import get_encoding
from rest_framework.utils import json

MAX_JSON_DEPTH = 32
TOO_DEEP = _("The JSON body is nested too deeply (at most %(limit)s levels).")
TOO_LARGE = _("The request body is too large (at most %(limit)s bytes).")

__all__ = ["MAX_JSON_DEPTH", "JSONParser", "ParseError", "TooLarge", "too_deep"]


class TooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"

    def __init__(self) -> None:
        limit = number_format(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0, force_grouping=True)
        super().__init__(str(TOO_LARGE) % {"limit": limit})


def too_deep() -> ParseError:
    return ParseError(str(TOO_DEEP) % {"limit": MAX_JSON_DEPTH}, code="too_deep")


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` has more than ``limit`` levels of lists and objects (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded in size and depth (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise TooLarge()
        try:
            text = raw.decode(encoding)
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError:
            raise too_deep() from None
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError alike
            raise ParseError(f"JSON parse error - {error}") from None
        if depth_exceeds(data, MAX_JSON_DEPTH):
            raise too_deep()
        return data

