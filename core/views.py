from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import run_checks


@require_GET
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    # Liveness only: touches no database or service, so a slow dependency
    # never makes the orchestrator kill a healthy web process.
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def ready(request: HttpRequest) -> JsonResponse:
    results = run_checks()
    ok = all(result.ok for result in results)
    body = {"status": "ok" if ok else "fail", "checks": {r.name: r.as_dict() for r in results}}
    return JsonResponse(body, status=200 if ok else 503)


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "core/landing.html")


# How many of the user's strategies and latest runs the dashboard lists (the rest: "show all").
DASHBOARD_STRATEGIES = 5
DASHBOARD_RUNS = 6
DASHBOARD_NOTIFICATIONS = 5


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The user's latest strategies and backtest runs with their key metrics, and live events.

    Everything comes through the owner-scoped selectors, so nobody sees another user's items.
    Trading has no pages yet, so the dashboard says nothing about accounts or positions.
    """
    from backtests import selectors as backtest_selectors
    from notifications import centre_selectors
    from strategies import schema
    from strategies import selectors as strategy_selectors

    strategies = strategy_selectors.strategy_list(user=request.user)
    runs = backtest_selectors.backtest_list(user=request.user)
    context = {
        "nav": "dashboard",
        "strategies": list(strategies[:DASHBOARD_STRATEGIES]),
        "strategy_count": strategies.count(),
        "runs": list(runs[:DASHBOARD_RUNS]),
        "run_count": runs.count(),
        "type_labels": dict(schema.type_choices()),
        "notifications": list(centre_selectors.notification_list(user=request.user)[:DASHBOARD_NOTIFICATIONS]),
    }
    return render(request, "core/dashboard.html", context)


def _pool_exhausted(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) is a wait for a database connection that timed out."""
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:  # SQLite setups do not install the pool
        return False
    while error is not None:
        if isinstance(error, PoolTimeout):
            return True
        error = error.__cause__ or error.__context__
    return False


BUSY = gettext_lazy("The service is busy. Please try again in a few seconds.")


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 handler: under /api/ the API's error body (a URL no route matches, e.g. a non-numeric
    id), like every other API error; Django's page elsewhere."""
    from django.views.defaults import page_not_found
    from rest_framework.exceptions import NotFound

    from core.api import error_body

    if request.path.startswith("/api/"):
        body = error_body(status_code=404, code=NotFound.default_code, message=str(NotFound.default_detail))
        return JsonResponse(body, status=404)
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 handler: an overload (every database connection busy) answers 503 with Retry-After,
    so clients back off and retry instead of reporting a failure; anything else is a plain 500."""
    import sys

    from django.views.defaults import server_error as default_server_error

    from core.api import error_body

    if not _pool_exhausted(sys.exc_info()[1]):
        return default_server_error(request)
    message = str(BUSY)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body(status_code=503, code="busy", message=message), status=503)
    else:
        response = HttpResponse(f"<!doctype html><title>503</title><p>{message}</p>", status=503)
    response["Retry-After"] = "5"
    return response
