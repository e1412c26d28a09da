"""The OpenAPI schema tells the truth about errors: every operation lists the error answers it can give.

drf-spectacular documents the success answers a view declares. The errors come from shared
machinery (validation, the selectors' 404, authentication, throttles) and all share one body, made
by :func:`core.api.exception_handler`; so they are added here, once, from what the operation has:

* 400 when it takes a body or query parameters (they are validated), or writes (a service may refuse
  the action in the object's present state: an application error, 400 unless it says otherwise);
* 404 when it has path parameters (not found, or not yours) or is a paginated list (a page past the end);
* 401 and 403 when it needs credentials (none or bad ones; a session without its CSRF token);
* 415 when it takes a body (in a media type it does not parse);
* 429 when the view is throttled.

An error answer a view declares without a body (``OpenApiResponse(description=...)``) gets the error
body too.
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text='A stable machine-readable code: "invalid", "not_found", ...')
    message = serializers.CharField(help_text="For people, in the user's language.")
    fields = serializers.DictField(
        required=False, child=serializers.JSONField(),
        help_text='With "invalid": the messages of each field that is wrong, keyed by its name '
                  '(a list of messages, or for a nested field its own keys).',
    )


class ErrorSerializer(serializers.Serializer):
    """The one error body of the API."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input (the error body names each field that is wrong), or an action refused",
    "401": "No credentials, or an invalid or revoked token",
    "403": "Not allowed (or a session request without its CSRF token)",
    "404": "Not found (or not yours)",
    "404-page": "A page past the end of the list",
    "415": "The body's media type is not one the operation reads",
    "429": "Too many requests: try again later",
}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for reason in self._error_reasons(operation):
            responses.setdefault(reason[:3], {"description": ERROR_DESCRIPTIONS[reason]})
        error_content = self._error_content()
        for code, response in responses.items():
            if str(code)[0] in "45" and "content" not in response:
                response["content"] = error_content
        return operation

    def _error_reasons(self, operation: dict) -> list[str]:
        where = {parameter.get("in") for parameter in operation.get("parameters", [])}
        codes = []
        if "requestBody" in operation or "query" in where or self.method != "GET":
            codes.append("400")
        if operation.get("security"):
            codes += ["401", "403"]
        if "path" in where:
            codes.append("404")
        elif self._is_paginated():
            codes.append("404-page")
        if "requestBody" in operation:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _is_paginated(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None

    def _error_content(self) -> dict:
        response = self._get_response_for_code(OpenApiResponse(ErrorSerializer), "400")
        return response["content"]
