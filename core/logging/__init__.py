"""Logs and error reports: JSON lines (json_format), the request/task context every line carries
(context, celery), secrets masked before anything is written or sent (scrub), Sentry (sentry).

This package is ``core.logging``; inside it, ``import logging`` is still the standard library
(absolute imports). Nothing is imported here, so loading the package costs nothing.
"""
