"""The API schema tells the truth: page envelopes, the error body on every error answer, and
pagination parameters refused as the schema says (issue 10)."""

from __future__ import annotations

import pytest
from django.utils import translation

from core.api import PAGE_INVALID, PAGE_SIZE_INVALID

SCHEMA = "/api/schema/?format=json"
ERROR_REF = "#/components/schemas/Error"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(anon_api_client) -> dict:
    response = anon_api_client.get(SCHEMA)
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def declared_body(operation: dict, code: str) -> dict | None:
    response = operation["responses"].get(code)
    if response is None:
        return None
    return response.get("content", {}).get("application/json", {}).get("schema")


def resolve(schema: dict, body: dict) -> dict:
    if "$ref" in body:
        return schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    return body


def test_every_list_that_answers_a_page_declares_the_page_envelope(schema, api_client, alice_world):
    ids = {"{id}": str(alice_world.run.pk)}
    checked = []
    for label, operation in operations(schema):
        method, path = label.split(" ", 1)
        if method != "GET" or not path.startswith("/api/v1/backtests/") and "{" in path:
            continue
        for placeholder, value in ids.items():
            path = path.replace(placeholder, value)
        if "{" in path:
            continue
        answer = api_client.get(path)
        if answer.status_code != 200 or not isinstance(answer.json(), dict) or "results" not in answer.json():
            continue
        declared = resolve(schema, declared_body(operation, "200"))
        assert declared.get("type") == "object", f"{label} answers a page but declares {declared}"
        assert {"count", "next", "previous", "results"} <= set(declared["properties"]), label
        checked.append(label)
    assert {"GET /api/v1/backtests/", "GET /api/v1/backtest-sweeps/", "GET /api/v1/backtests/{id}/trades/",
            "GET /api/v1/backtests/{id}/signals/", "GET /api/v1/strategies/"} <= set(checked)


def test_the_error_body_is_one_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = resolve(schema, error["properties"]["error"])
    assert set(detail["properties"]) == {"status", "code", "message", "fields"}
    assert set(detail["required"]) == {"status", "code", "message"}


def test_every_operation_documents_the_errors_it_can_answer(schema):
    missing = []
    for label, operation in operations(schema):
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        expected = {"429"}
        if "requestBody" in operation or "query" in where or label.split()[0] != "GET":
            expected.add("400")  # writes too: a service may refuse the action
        if "path" in where:
            expected.add("404")
        if operation.get("security"):
            expected |= {"401", "403"}
        for code in sorted(expected):
            body = declared_body(operation, code)
            # the shared Error, or a view's own narrower description of the same envelope
            if body is None or "error" not in resolve(schema, body).get("properties", {}):
                missing.append(f"{label} {code}")
    assert not missing, missing


def test_a_body_less_error_a_view_declares_gets_the_error_body(schema):
    # strategies' API declares 409 on deleting a watchlist a strategy trades with a description only
    operation = schema["paths"]["/api/v1/watchlists/{id}/"]["delete"]
    assert declared_body(operation, "409") == {"$ref": ERROR_REF}


# ---------------------------------------------------------------------------------------------------
# Pagination parameters: what the schema says is invalid is refused, naming the parameter
# ---------------------------------------------------------------------------------------------------
def test_the_schema_bounds_page_and_page_size(schema):
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/strategies/"]["get"]["parameters"]}
    assert parameters["page"] == {"type": "integer", "minimum": 1}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}


@pytest.mark.parametrize("url", ["/api/v1/strategies/", "/api/v1/backtests/", "/api/v1/backtest-sweeps/"])
@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "501", " 5", ""])
def test_a_page_size_that_is_not_a_whole_number_up_to_500_is_refused(api_client, url, value):
    response = api_client.get(url, {"page_size": value})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    with translation.override("ko"):
        assert error["fields"] == {"page_size": [str(PAGE_SIZE_INVALID) % {"max": 500}]}


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.0", "last", ""])
def test_a_page_that_is_not_a_whole_number_is_refused(api_client, value):
    response = api_client.get("/api/v1/strategies/", {"page": value})
    assert response.status_code == 400, response.content
    with translation.override("ko"):
        assert response.json()["error"]["fields"] == {"page": [str(PAGE_INVALID)]}


def test_a_page_past_the_end_is_404_in_the_error_body(api_client):
    response = api_client.get("/api/v1/strategies/", {"page": "2"})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_good_page_parameters_still_page(api_client, alice_world):
    body = api_client.get("/api/v1/backtests/", {"page": "1", "page_size": "500"}).json()
    assert body["count"] == 1 and [run["id"] for run in body["results"]] == [alice_world.run.pk]


# ---------------------------------------------------------------------------------------------------
# Answers no view gives: a URL no route matches is the API's 404 body under /api/
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/backtests/abc/", "/api/v1/strategies/1.5/", "/api/v1/nothing-here/"])
def test_an_api_url_no_route_matches_answers_the_error_body(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_a_page_url_no_route_matches_is_still_a_page(client, db):
    # db: the page's chrome reads the system settings (maintenance) and the announcements
    response = client.get("/strategies/abc/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


def test_results_of_a_run_without_them_are_documented_as_409(schema):
    for path in ("/api/v1/backtests/{id}/results/", "/api/v1/backtests/{id}/trades/",
                 "/api/v1/backtests/{id}/signals/", "/api/v1/backtests/{id}/download/{name}"):
        assert declared_body(schema["paths"][path]["get"], "409") == {"$ref": ERROR_REF}, path


def test_downloads_declare_the_types_they_send(schema):
    content = schema["paths"]["/api/v1/backtests/{id}/download/{name}"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}
