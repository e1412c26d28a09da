"""The drift report on the deployment page: ``{% drift_report_for deployment as drift %}``."""

from __future__ import annotations

import logging
from typing import Any

from django import template

register = template.Library()
logger = logging.getLogger("trading.live")


@register.simple_tag
def drift_report_for(deployment: Any) -> Any:
    """``trading.live.drift.drift_report`` of ``deployment`` (the page checked it is the user's);
    None when it cannot be computed (the page still shows the rest)."""
    from trading.live.drift import drift_report

    try:
        return drift_report(deployment)
    except Exception:  # noqa: BLE001 - a broken report must not take the deployment page down
        logger.exception("drift report of deployment %s failed", getattr(deployment, "pk", None))
        return None

