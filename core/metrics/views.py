"""``GET /metrics`` (Prometheus) and ``POST /ops/alerts/`` (Alertmanager's webhook to the operators).

Neither is behind the login: each has its own bearer token, and neither is ever cached.
- ``/metrics``: ``Authorization: Bearer $METRICS_TOKEN``. With no token configured: 404 in
  production; in development open to loopback clients only (``REMOTE_ADDR`` after
  ``core.proxies``, so a forwarded header cannot fake it).
- ``/ops/alerts/``: ``Authorization: Bearer $ALERTMANAGER_TOKEN``; 404 while it is unset. Each alert
  of the payload (firing or resolved) becomes one ``notifications.ops.ops_alert``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

logger = logging.getLogger("core.metrics")
MAX_ALERTS = 100  # per webhook call (Alertmanager's max_alerts in ops/alertmanager/alertmanager.yml)


def bearer_ok(request: HttpRequest, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and bool(given) and hmac.compare_digest(given.strip().encode(), token.encode())


def _loopback(request: HttpRequest) -> bool:
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _unauthorized() -> HttpResponse:
    response = HttpResponse("a bearer token is needed\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    if token:
        if not bearer_ok(request, token):
            return _unauthorized()
    elif getattr(settings, "PRODUCTION", not settings.DEBUG) or not _loopback(request):
        raise Http404
    from core.metrics.exposition import scrape

    body, content_type = scrape(with_ledger=True)
    return HttpResponse(body, content_type=content_type)


def _alert_text(alert: dict) -> tuple[str, str, str]:
    labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
    notes = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    status = "resolved" if alert.get("status") == "resolved" else "firing"
    name = str(labels.get("alertname") or "alert")[:100]
    where = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    title = f"[{status.upper()}] {name}" + (f" ({labels['severity']})" if labels.get("severity") else "")
    if notes.get("summary"):
        title += f": {notes['summary']}"
    body = "\n".join(str(part) for part in (notes.get("description"), where and f"labels: {where}",
                                             alert.get("startsAt") and f"since {alert['startsAt']}") if part)
    key = f"alertmanager:{alert.get('fingerprint') or name + ':' + where}:{status}:{alert.get('startsAt', '')}"
    return key, title[:200], body[:2000]


@csrf_exempt
@never_cache
@require_POST
def alerts(request: HttpRequest) -> HttpResponse:
    token = getattr(settings, "ALERTMANAGER_TOKEN", "") or ""
    if not token:
        raise Http404
    if not bearer_ok(request, token):
        return _unauthorized()
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "the body is not JSON"}, status=400)
    items = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return JsonResponse({"alerts": "a list of alerts is required"}, status=400)
    from notifications.ops import ops_alert

    sent = 0
    for alert in items[:MAX_ALERTS]:
        if isinstance(alert, dict):
            key, title, body = _alert_text(alert)
            sent += bool(ops_alert(key=key, title=title, body=body))
    return JsonResponse({"received": min(len(items), MAX_ALERTS), "sent": sent})
