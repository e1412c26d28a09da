"""Every URL pattern, every method, as an anonymous visitor and as bob, against alice's objects.

The test walks the URL resolver (pages, the API namespace, allauth, the admin), so a new route is
covered the day it is added. Path parameters are filled from :data:`PARAMETERS` (alice's strategy,
watchlist, run, sweep, token...); a route whose parameter has no entry FAILS the test, naming it, so
nothing is skipped silently. What must hold:

* nobody ever gets a 5xx;
* an anonymous visitor is sent to a login page, or gets 401/403/405, unless the route is one of the
  few public ones in :data:`PUBLIC`;
* bob (signed in, not staff) gets 403/404/405 on every route that points at alice's objects, never a
  2xx or a redirect; and no answer bob gets anywhere shows alice's data;
* alice's objects are all still there afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.shortcuts import resolve_url
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken
from backtests.models import BacktestRun, BacktestSweep
from strategies.models import Strategy, Watchlist
from core.audit import Actor
from trading.killswitch import kill_switch_pull
from trading.live.models import Deployment
from trading.models import BrokerAccount
from trading.orders import services as order_services
from trading.orders.models import Order, Position
from notifications.feedback_services import feedback_submit
from notifications.models import Notification
from notifications.webhook_services import webhook_create

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
MARK = "q7x9"  # in the name of everything alice owns: found in an answer to bob, it is a leak

# Route prefix (as the resolver spells it) → how to fill its parameters. The longest prefix wins;
# a value that is alice's object makes the route "owned": bob must not get it.
PARAMETERS: dict[str, dict[str, str]] = {
    "settings/tokens/<int:pk>/": {"pk": "token"},
    "strategies/<int:pk>/": {"pk": "strategy"},
    "strategies/presets/<str:key>/": {"key": "=sma_cross.default"},
    "strategies/watchlists/<int:pk>/": {"pk": "watchlist"},
    "backtests/<int:pk>/": {"pk": "run", "name": "=trades.csv"},
    "backtests/sweeps/<int:pk>/": {"pk": "sweep", "cell_id": "cell"},
    "markets/<str:code>/": {"code": "=005930"},
    "api/v1/auth/tokens/<int:pk>/": {"pk": "token"},
    "api/v1/instruments/<str:code>/": {"code": "=005930"},
    "api/v1/backtests/<int:pk>/": {"pk": "run", "name": "=trades.csv"},
    "api/v1/backtest-sweeps/<int:pk>/": {"pk": "sweep", "cell_id": "cell"},
    "api/v1/strategies/<int:pk>/": {"pk": "strategy"},
    "api/v1/strategy-presets/<str:key>/": {"key": "=sma_cross.default"},
    "api/v1/watchlists/<int:pk>/": {"pk": "watchlist"},
    "trading/accounts/<int:pk>/": {"pk": "broker_account"},
    "api/v1/broker-accounts/<int:pk>/": {"pk": "broker_account"},
    "trading/orders/<int:pk>/": {"pk": "order"},
    "api/v1/orders/<int:pk>/": {"pk": "order"},
    "api/v1/positions/<int:pk>/": {"pk": "position"},
    "trading/positions/<int:pk>/": {"pk": "position"},
    "trading/deployments/<int:pk>/": {"pk": "deployment"},
    "api/v1/deployments/<int:pk>/": {"pk": "deployment"},
    "notifications/<int:pk>/": {"pk": "notification"},
    "api/v1/notifications/<int:pk>/": {"pk": "notification"},
    "feedback/<int:pk>/": {"pk": "feedback"},
    "api/v1/feedback/<int:pk>/": {"pk": "feedback"},
    "notifications/webhooks/<int:pk>/": {"pk": "webhook"},
    "api/v1/webhooks/<int:pk>/": {"pk": "webhook"},
    # announcements are everyone's: dismissing one hides it for the one who asks
    "notifications/announcements/<int:pk>/": {"pk": "=1"},
    # the admin answers a non-staff visitor with its login page whatever the id
    "admin/": {"object_id": "=1", "id": "=1", "pk": "=1", "content_type_id": "=1", "app_label": "=strategies",
               "url": "=nothing-here/"},
    # allauth's emailed links: a wrong key is a page saying so
    "accounts/": {"key": "=not-a-key", "uidb36": "=1"},
}

# Routes anyone may see (the anonymous visitor gets the page itself): by prefix or exact route.
# settings/ and preferences/: a visitor chooses theme, language and time zone too.
PUBLIC_EXACT = {"", "health", "ready", "settings/", "preferences/", "api/schema/", "api/docs/",
                "api/v1/auth/token/", "admin/login/", "admin/logout/",
                # Telegram's door: no session, its secret header instead (403 when wrong, 404 with no bot configured)
                "notifications/telegram/webhook/",
                # Prometheus and Alertmanager: bearer tokens instead of sessions (/metrics is open to loopback
                # clients in development when METRICS_TOKEN is unset; /ops/alerts/ is 404 without its token)
                "metrics", "ops/alerts/"}
# The readiness probe answers 503 while a dependency is not ready (here: no worker): its answer, not a fault.
MAY_ANSWER_503 = {"ready"}
PUBLIC_PREFIXES = (
    "accounts/login/", "accounts/logout/", "accounts/signup/", "accounts/inactive/", "accounts/confirm-email/",
    "accounts/^confirm-email/", "accounts/password/reset/", "accounts/^password/reset/", "accounts/2fa/authenticate/",
)


def walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def parameter_names(route: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", route) + re.findall(r"\(\?P<(\w+)>", route)


def concrete_path(route: str, values: dict[str, str]) -> str:
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    path = re.sub(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)", lambda m: values[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "").replace("\\Z", "")


def fill(route: str, objects: dict[str, int]) -> tuple[str, bool] | str:
    """The URL to request and whether it points at alice's objects; or a message when it cannot."""
    names = parameter_names(route)
    if not names:
        return concrete_path(route, {}), False
    prefixes = [prefix for prefix in PARAMETERS if route.startswith(prefix)]
    mapping = PARAMETERS[max(prefixes, key=len)] if prefixes else {}
    missing = [name for name in names if name not in mapping]
    if missing:
        return (f"/{route}: no value for {', '.join(missing)}; add the route's prefix and what to put in "
                f"each parameter to PARAMETERS in tests/test_authorization_sweep.py")
    values = {name: mapping[name][1:] if mapping[name].startswith("=") else str(objects[mapping[name]])
              for name in names}
    owned = any(not mapping[name].startswith("=") for name in names)
    return concrete_path(route, values), owned


def is_public(route: str) -> bool:
    return route in PUBLIC_EXACT or route.startswith(PUBLIC_PREFIXES)


def goes_to_login(response) -> bool:
    location = response.get("Location", "")
    return response.status_code in (301, 302, 303) and (
        location.startswith(resolve_url(settings.LOGIN_URL)) or location.startswith("/admin/login/")
    )


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


@pytest.fixture
def alice_order(alice_world, monkeypatch) -> Order:
    """An order of alice's on her KIS account (never sent), a position and a pulled kill switch, each
    carrying the mark in a text the API shows."""
    monkeypatch.setattr(order_services, "enqueue_submit", lambda order_id: None)
    account = alice_world.broker_account
    order = order_services.order_create(actor=Actor.of_user(alice_world.alice), account=account, symbol="005930",
                                        side="buy", quantity=Decimal(1), price=Decimal(70_000))
    Order.objects.filter(pk=order.pk).update(reject_reason=f"alice order {MARK}")
    Position.objects.create(account=account, symbol="005930", mismatch=True, mismatch_note=f"alice {MARK}")
    kill_switch_pull(actor=Actor.of_user(alice_world.alice), scope="account", account=account,
                     reason=f"alice switch {MARK}")
    return order


def alice_deployment(world) -> Deployment:
    """alice's running deployment of her strategy on her account (its name carries the mark)."""
    return Deployment.objects.create(owner=world.alice, strategy=world.strategy, account=world.broker_account,
                                     name=f"alice deployment {MARK}", capital=Decimal(1_000_000),
                                     symbols=["005930"], state="running", strategy_type="sma_cross",
                                     params={"fast": 10, "slow": 30})


@pytest.fixture
def named_world(alice_world, alice_order):
    """alice's objects with the mark in their names, so that an answer showing them is recognised."""
    Strategy.objects.filter(pk=alice_world.strategy.pk).update(name=f"alice strategy {MARK}")
    Watchlist.objects.filter(pk=alice_world.watchlist.pk).update(name=f"alice list {MARK}")
    BacktestRun.objects.filter(owner=alice_world.alice).update(title=f"alice run {MARK}")
    BacktestSweep.objects.filter(pk=alice_world.sweep.pk).update(title=f"alice sweep {MARK}")
    ApiToken.objects.filter(pk=alice_world.token.pk).update(name=f"alice phone {MARK}")
    BrokerAccount.objects.filter(pk=alice_world.broker_account.pk).update(nickname=f"alice kis {MARK}")
    return alice_world


def test_no_route_leaks_alices_objects_or_fails_with_5xx(named_world, alice_order, other_user, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": None, "user": None, "auth": None})
    objects = {"strategy": named_world.strategy.pk, "watchlist": named_world.watchlist.pk, "run": named_world.run.pk,
               "sweep": named_world.sweep.pk, "cell": named_world.cell_id, "token": named_world.token.pk,
               "broker_account": named_world.broker_account.pk, "order": alice_order.pk,
               "position": Position.objects.get(account=alice_order.account_id, symbol="005930").pk,
               "deployment": alice_deployment(named_world).pk,
               "notification": Notification.objects.create(owner=named_world.alice, kind="order_filled",
                                                           event="order.filled", title=f"alice fill {MARK}").pk,
               "feedback": feedback_submit(user=named_world.alice, what_happened=f"alice report {MARK}").pk,
               "webhook": webhook_create(actor=Actor.of_user(named_world.alice), owner=named_world.alice,
                                         url=f"https://hooks.example.com/{MARK}", events=["order_filled"])[0].pk}
    routes = sorted(walk(get_resolver().url_patterns), key=lambda item: item[0])
    unfillable, problems = [], []
    requests = 0
    for route, _pattern in routes:
        filled = fill(route, objects)
        if isinstance(filled, str):
            unfillable.append(filled)
            continue
        path, owned = filled
        for method in METHODS:
            for who in ("anonymous", "bob"):
                cache.clear()  # rate limits are not what is under test
                client = Client(raise_request_exception=False)
                if who == "bob":
                    client.force_login(other_user)
                response = client.generic(method, path)
                requests += 1
                problem = judge(route, path, method, who, owned, response)
                if problem:
                    problems.append(problem)

    assert not unfillable, "Routes whose parameters the sweep cannot fill:\n" + "\n".join(unfillable)
    assert requests > 500
    assert not problems, f"{len(problems)} problems in {requests} requests:\n" + "\n".join(problems)
    still_there = [Strategy.objects.filter(pk=objects["strategy"]).exists(),
                   Watchlist.objects.filter(pk=objects["watchlist"]).exists(),
                   BacktestRun.objects.filter(pk=objects["run"]).exists(),
                   BacktestSweep.objects.filter(pk=objects["sweep"]).exists(),
                   ApiToken.objects.filter(pk=objects["token"]).exists(),
                   BrokerAccount.objects.filter(pk=objects["broker_account"]).exists(),
                   Order.objects.filter(pk=objects["order"], state="new").exists(),
                   Position.objects.filter(pk=objects["position"], mismatch=True).exists(),
                   Deployment.objects.filter(pk=objects["deployment"], state="running").exists()]
    assert all(still_there), still_there


def judge(route: str, path: str, method: str, who: str, owned: bool, response) -> str | None:
    status = response.status_code
    where = f"{method} {path} as {who}: {status}"
    if status >= 500 and not (status == 503 and route in MAY_ANSWER_503):
        return f"{where} (a server error)"
    if who == "anonymous":
        if is_public(route) or goes_to_login(response) or status in (401, 403, 405):
            return None
        return f"{where} {response.get('Location', '')} (neither a login redirect, 401/403/405, nor a public route)"
    if owned and method != "OPTIONS" and status not in (403, 404, 405):
        return f"{where} {response.get('Location', '')} (alice's object: expected 403/404/405)"
    if 200 <= status < 300 and MARK in body_of(response):
        return f"{where} (shows alice's data)"
    return None
