"""schemathesis over every operation of /api/schema/: no 5xx, and every answer is the one documented.

The schema is loaded from the app in-process (WSGI) and every operation is called, as alice with a
real API token, with a bounded number of generated cases (hypothesis, derandomized, no shrinking):
valid data on alice's own objects, valid data on generated ids, and invalid data. Each answer goes
through schemathesis' checks (server error, status code, content type, headers, body schema, and
that invalid data is refused). Runs once in CI: in the embedded (SQLite) pass only.

The figures (operations, cases, 5xx, conformance failures) are printed at the end (``-s`` or
``-rA`` shows them) and written to the test's report; SCHEMATHESIS_DEBUG=1 prints each failure in
full (the answer and a curl command to reproduce it). SCHEMATHESIS_PATHS=/api/v1/orders/,/api/v1/fills/
runs only the operations whose path starts with one of those prefixes (while working on them).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from rest_framework.throttling import SimpleRateThrottle
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup

from accounts import services as account_services
from core.audit import Actor
from notifications.feedback_services import feedback_submit
from notifications.models import Notification
from notifications.webhook_services import webhook_create
from trading.orders import services as order_services
from trading.orders.fills import FillReport
from trading.orders.models import Order, Position

MAX_EXAMPLES = 12  # per operation and kind of data: about a minute for the whole API on one core
# A valid request may still be refused for what a schema cannot say (an unknown instrument code, a
# plan's limit): that is positive_data_acceptance, the one check left out.
EXCLUDED_CHECKS = {"positive_data_acceptance"}


@dataclass
class Figures:
    operations: int = 0
    cases: int = 0
    server_errors: int = 0
    failing_cases: int = 0
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)

    def record(self, operation: str, failures: list[Failure]) -> None:
        self.failing_cases += 1
        for failure in failures:
            line = f"{failure.title}: {failure.message.splitlines()[0] if failure.message else ''}"[:300]
            if line not in self.failures[operation]:
                self.failures[operation].append(line)

    @property
    def conformance_failures(self) -> int:
        return sum(len(lines) for lines in self.failures.values())

    def report(self) -> str:
        lines = [f"schemathesis: {self.operations} operations, {self.cases} cases, {self.server_errors} 5xx, "
                 f"{self.failing_cases} failing cases ({self.conformance_failures} distinct failures); statuses {dict(sorted(self.statuses.items()))}"]
        for operation, found in sorted(self.failures.items()):
            lines += [f"  {operation}"] + [f"    - {line}" for line in found]
        return "\n".join(lines)


def _path_parameters(world, order: Order) -> dict[str, int | str]:
    # Names as the schema spells them ({id}, {cell_id}, ...) → alice's objects, per path prefix.
    return {
        "/api/v1/backtests/": {"id": world.run.pk, "name": "trades.csv"},
        "/api/v1/backtest-sweeps/": {"id": world.sweep.pk, "cell_id": world.cell_id},
        "/api/v1/strategies/": {"id": world.strategy.pk},
        "/api/v1/strategy-presets/": {"key": "sma_cross_classic"},
        "/api/v1/watchlists/": {"id": world.watchlist.pk},
        "/api/v1/instruments/": {"code": "005930"},
        "/api/v1/auth/tokens/": {"id": world.token.pk},
        "/api/v1/broker-accounts/": {"id": world.broker_account.pk},
        "/api/v1/orders/": {"id": order.pk},
        "/api/v1/positions/": {"id": Position.objects.get(account=order.account_id, symbol=order.symbol).pk},
        "/api/v1/webhooks/": {"id": webhook_create(actor=Actor.of_user(world.alice), owner=world.alice,
                                                   url="https://hooks.example.com/x", events=["order_filled"])[0].pk},
        "/api/v1/feedback/": {"id": feedback_submit(user=world.alice, what_happened="a chart did not load").pk},
        "/api/v1/notifications/": {"id": Notification.objects.create(owner=world.alice, kind="order_filled",
                                                                     event="order.filled", title="filled").pk},
    }


def _alice_order(world) -> Order:
    """An order of alice's on her KIS account, accepted and partly filled (never sent: its jobs are
    not enqueued), so that the order, position and fill answers have rows to show; the position
    differs from the broker's (there is a mismatch to resolve)."""
    order = order_services.order_create(actor=Actor.of_user(world.alice), account=world.broker_account,
                                        symbol="005930", side="buy", quantity=Decimal(3), price=Decimal(70_000))
    Order.objects.filter(pk=order.pk).update(state="accepted", broker_order_no="0000117")
    order_services.order_fill_record(order_id=order.pk, report=FillReport("0000117", Decimal(1),
                                                                          price=Decimal(70_000)))
    Position.objects.filter(account=order.account_id, symbol=order.symbol).update(
        mismatch=True, broker_quantity=Decimal(2), broker_average_price=Decimal(70_000))
    return Order.objects.get(pk=order.pk)


def _own_objects(known: dict, path: str) -> dict:
    for prefix, values in known.items():
        if path.startswith(prefix):
            return {name: value for name, value in values.items() if "{" + name + "}" in path}
    return {}


def _run_operation(operation, figures: Figures, *, path_parameters: dict | None, mode, headers_for) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        cache.clear()  # throttles and login limits start fresh: they are not what is under test
        headers = headers_for(label)
        case.headers = {**(case.headers or {}), **headers}  # alice's token, not a generated one
        # A server always knows its TCP peer (the per-address sign-in limits key on it); werkzeug's
        # WSGI client sends no REMOTE_ADDR unless told to, and allauth refuses such a request.
        response = case.call(environ_overrides={"REMOTE_ADDR": "127.0.0.1"})
        figures.cases += 1
        figures.statuses[response.status_code] += 1
        if response.status_code >= 500:
            figures.server_errors += 1
        try:
            case.validate_response(response, headers=headers, excluded_checks=[
                check for check in schemathesis.checks.CHECKS.get_all() if check.__name__ in EXCLUDED_CHECKS
            ])
        except FailureGroup as group:
            figures.record(label, list(group.exceptions))
            if os.environ.get("SCHEMATHESIS_DEBUG"):
                print(label, str(group)[:3000])
        except Failure as failure:
            figures.record(label, [failure])

    try:
        run()
    except Unsatisfiable:  # no invalid data to make for this operation (nothing in it can be wrong)
        pass


@pytest.fixture
def wsgi_app():
    """The real WSGI app, kept on the test's database connection (as Django's test client does)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.mark.skipif("postgresql" in django_settings.DATABASES["default"]["ENGINE"],
                    reason="runs once in CI: in the embedded (SQLite) pass, not again against PostgreSQL")
def test_every_api_operation_answers_as_its_schema_says(alice_world, wsgi_app, monkeypatch, request):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": None, "user": None, "auth": None})
    _token, key = account_services.api_token_create(user=alice_world.alice, name="schemathesis")
    headers = {"Authorization": f"Token {key}"}

    def headers_for(label: str) -> dict:
        if label == "DELETE /api/v1/auth/token/":  # logging out: with a token of its own each time
            return {"Authorization": f"Token {account_services.api_token_create(user=alice_world.alice)[1]}"}
        return headers

    for name in ("enqueue_submit", "enqueue_cancel", "enqueue_reconcile"):
        monkeypatch.setattr(order_services, name, lambda order_id: None)
    monkeypatch.setattr("trading.orders.revise.enqueue_revise", lambda order_id: None)
    order = _alice_order(alice_world)

    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    only = [prefix for prefix in os.environ.get("SCHEMATHESIS_PATHS", "").split(",") if prefix]
    if only:
        operations = [operation for operation in operations if operation.path.startswith(tuple(only))]
    # Deleting comes last, so that every other operation still finds alice's objects.
    operations.sort(key=lambda operation: (operation.method.upper() == "DELETE", operation.path))
    figures = Figures(operations=len(operations))
    known = _path_parameters(alice_world, order)  # now: deleting runs cascade (a sweep's cells)
    for operation in operations:
        own = _own_objects(known, operation.path)
        runs = [(GenerationMode.POSITIVE, own)] if own else []
        runs += [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
        for mode, path_parameters in runs:
            _run_operation(operation, figures, path_parameters=path_parameters, mode=mode, headers_for=headers_for)

    report = figures.report()
    print("\n" + report)
    request.node.user_properties.append(("schemathesis", report))
    assert figures.server_errors == 0 and not figures.failures, report
