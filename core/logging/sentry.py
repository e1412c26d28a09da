"""Error reports to Sentry (or any server speaking its protocol: GlitchTip, a self-hosted Sentry),
only when ``SENTRY_DSN`` is set. Django and Celery integrations; no personal data
(``send_default_pii`` left False); every event and transaction goes through the log scrubber before it
leaves (message, exception values, breadcrumbs, request headers/data/query string, extra, local
variables: every string, and the whole value of any key named like a secret), and carries the
request id as a tag (to find the request's log lines).

``sentry_init()`` is called by ``core.apps.CoreConfig.ready`` in every process (web, worker, beat).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from core.logging import context
from core.logging.scrub import scrub_data

logger = logging.getLogger("core.logging")


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event with every secret masked, tagged with the request id (and task) it happened in."""
    scrubbed = scrub_data(event)
    found = context.fields()
    tags = scrubbed.setdefault("tags", {})
    if isinstance(tags, dict):
        for name in ("request_id", "task"):
            if found[name] and name not in tags:
                tags[name] = found[name]
    return scrubbed


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return scrub_data(crumb)


def sentry_init(*, dsn: str | None = None) -> bool:
    """Starts the Sentry client when a DSN is set (``SENTRY_DSN``); True when it did."""
    dsn = (dsn if dsn is not None else getattr(settings, "SENTRY_DSN", "")) or ""
    if not dsn.strip():
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn.strip(),
        environment=getattr(settings, "SENTRY_ENVIRONMENT", "") or None,
        release=getattr(settings, "APP_VERSION", "") or None,
        traces_sample_rate=float(getattr(settings, "SENTRY_TRACES_SAMPLE_RATE", 0.0) or 0.0),
        # no personal data: send_default_pii stays at its default, False (sentry-sdk 2.76 warns when it is
        # passed at all, in favour of data_collection, whose defaults collect more)
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
    )
    logger.info("Sentry error reports on (environment %s)", getattr(settings, "SENTRY_ENVIRONMENT", "") or "-")
    return True
