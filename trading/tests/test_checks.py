"""Start-up checks: a submit lease too short for one broker request is refused at start."""

from trading.checks import order_lease_outlasts_a_request


def test_a_lease_shorter_than_a_request_is_an_error(settings):
    settings.BROKER_HTTP_CONNECT_TIMEOUT, settings.BROKER_HTTP_READ_TIMEOUT = 3, 10
    settings.ORDER_SUBMIT_LEASE_SECONDS = 8
    errors = order_lease_outlasts_a_request()
    assert [error.id for error in errors] == ["trading.E001"] and "no order is ever sent" in errors[0].msg
    settings.ORDER_SUBMIT_LEASE_SECONDS = 30
    assert order_lease_outlasts_a_request() == []
