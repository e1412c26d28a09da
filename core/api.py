"""API plumbing shared by every app: pagination and one error body.

Every error the API returns looks like::

    {"error": {"status": 400, "code": "invalid", "message": "...", "fields": {"name": ["..."]}}}
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import parsers
from core.errors import ApplicationError


PAGE_INVALID = gettext_lazy("Enter a page number: a whole number from 1.")
PAGE_SIZE_INVALID = gettext_lazy("Enter a page size: a whole number from 1 to %(max)d.")


class Pagination(PageNumberPagination):
    """Pages of 50 (``page_size`` up to 500). What the schema calls invalid is refused with 400
    naming the parameter; a page past the end is 404, as DRF answers it."""

    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # the schema says page is an integer: "last" is not one

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and _whole_number(raw, maximum=None) is None:
            raise exceptions.ValidationError({self.page_query_param: [str(PAGE_INVALID)]})
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = _whole_number(raw, maximum=self.max_page_size)
        if size is None:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [str(PAGE_SIZE_INVALID) % {"max": self.max_page_size}]}
            )
        return size

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.page_query_param: {"minimum": 1},
                  self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


def _whole_number(raw: str, *, maximum: int | None) -> int | None:
    """``raw`` as an integer from 1 (to ``maximum``), or None: digits only, no sign, no spaces."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 1000:  # int() refuses over 4300 digits
        return None
    number = int(raw)
    return number if number >= 1 and (maximum is None or number <= maximum) else None


def error_body(*, status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    body = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _flatten(detail) -> dict[str, list[str]] | list[str]:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [str(item) if not isinstance(item, (dict, list)) else _flatten(item) for item in detail]
    return [str(detail)]


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        fields = {exc.field: [exc.message]} if exc.field else None
        body = error_body(status_code=exc.status, code=exc.code, message=exc.message, fields=fields)
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig):  # Django's own size check, when it read the body first
        exc = parsers.TooLarge()
    elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = exceptions.ParseError(str(exc), code="too_many_fields")
    elif isinstance(exc, RecursionError):  # nested deeper than anything but the JSON parser can see
        exc = parsers.too_deep()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = _flatten(detail) if isinstance(detail, dict) else {"non_field_errors": _flatten(detail)}
        non_field = fields.get("non_field_errors") if isinstance(fields, dict) else None
        message = non_field[0] if non_field else _("Some fields are not valid.")
        response.data = error_body(status_code=response.status_code, code="invalid", message=message, fields=fields)
    else:
        detail = getattr(exc, "detail", "")
        code = detail.code if hasattr(detail, "code") else getattr(exc, "default_code", "error")
        response.data = error_body(status_code=response.status_code, code=str(code), message=str(detail))
    return response

