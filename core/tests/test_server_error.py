import json
import pytest
from django.db import OperationalError
from django.test import RequestFactory
from psycopg_pool import PoolTimeout

from core import views


def _handle(path: str, error: BaseException):
    request = RequestFactory().get(path)
    try:
        raise error
    except BaseException:
        return views.server_error(request)


def _pool_timeout() -> OperationalError:
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 10.00 sec")
        except PoolTimeout as cause:
            raise OperationalError("couldn't get a connection") from cause
    except OperationalError as error:
        return error


@pytest.mark.parametrize("path", ["/api/v1/backtests/1/results/", "/backtests/1/"])
def test_an_exhausted_connection_pool_answers_503_with_retry_after(path):
    response = _handle(path, _pool_timeout())
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    if path.startswith("/api/"):
        assert json.loads(response.content)["error"]["code"] == "busy"


def test_any_other_error_is_still_a_500():
    response = _handle("/backtests/1/", ValueError("a bug"))
    assert response.status_code == 500
