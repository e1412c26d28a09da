"""The site banner when a broker the user trades through is limited (``trading.health``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from trading import health


def broker_outages(request: HttpRequest) -> dict[str, Any]:
    return {"broker_outages": health.outages_for(getattr(request, "user", None))}
