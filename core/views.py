from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
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


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "core/dashboard.html", {"nav": "dashboard"})
