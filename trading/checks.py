"""Start-up checks of trading's settings (``manage.py check`` and every start run them)."""

from __future__ import annotations

from django.core.checks import Error, register


@register()
def order_lease_outlasts_a_request(app_configs=None, **kwargs) -> list[Error]:
    """A claimed order is sent only while its lease leaves room for one whole request: a lease no
    longer than that would leave every order unsent (settled "not placed" by reconciliation)."""
    from trading.orders.services import lease_seconds, send_budget_seconds

    if lease_seconds() > send_budget_seconds():
        return []
    return [Error(
        f"ORDER_SUBMIT_LEASE_SECONDS ({lease_seconds():g}) must be longer than one broker request can take "
        f"(BROKER_HTTP_CONNECT_TIMEOUT + BROKER_HTTP_READ_TIMEOUT + 2 = {send_budget_seconds():g} s): "
        "otherwise no order is ever sent.",
        id="trading.E001",
    )]
