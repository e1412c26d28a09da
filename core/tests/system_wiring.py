"""The system settings' middleware and context processor in the test settings, whether or not the
lead has put them in config/settings.py yet (shared by the system settings, incident and dashboard tests)."""

from __future__ import annotations

import copy

MIDDLEWARE = "core.system.middleware.MaintenanceMiddleware"
CONTEXT = "core.system.context.maintenance"


def wire(settings) -> None:
    if MIDDLEWARE not in settings.MIDDLEWARE:
        at = settings.MIDDLEWARE.index("allauth.account.middleware.AccountMiddleware") + 1
        settings.MIDDLEWARE = [*settings.MIDDLEWARE[:at], MIDDLEWARE, *settings.MIDDLEWARE[at:]]
    processors = settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
    if CONTEXT not in processors:
        templates = copy.deepcopy(settings.TEMPLATES)
        templates[0]["OPTIONS"]["context_processors"].append(CONTEXT)
        settings.TEMPLATES = templates
