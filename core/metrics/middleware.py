"""Requests, latency and 5xx answers per view (``quantk_http_*``). Near the top of MIDDLEWARE, so
the time includes the other middleware; the view is the URL pattern's name (bounded), never the path."""

from __future__ import annotations

import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from core.metrics import series

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>"  # 404s of unknown paths, and answers given before the URL was resolved
    return match.view_name or getattr(match, "_func_path", "") or "<unnamed>"


def record(request, status: int, seconds: float) -> None:
    view = view_label(request)
    method = request.method if request.method in METHODS else "OTHER"
    series.http_requests.labels(view=view, method=method, status=str(status)).inc()
    series.http_latency.labels(view=view).observe(seconds)
    if status >= 500:
        series.http_errors.labels(view=view).inc()


class MetricsMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        record(request, response.status_code, time.perf_counter() - started)
        return response

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        record(request, response.status_code, time.perf_counter() - started)
        return response
