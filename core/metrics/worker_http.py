"""A small token-checked HTTP server for a Celery worker's or beat's metrics (a daemon thread)."""

from __future__ import annotations

import hmac
import logging
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from core.metrics.exposition import scrape

logger = logging.getLogger("core.metrics")


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # one line per scrape is noise
        pass


def metrics_app(token: str):
    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            # no token configured: refused (this port is for a container network, never open)
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"a bearer token is needed\n"]
        body, content_type = scrape(with_ledger=False)
        start_response("200 OK", [("Content-Type", content_type), ("Cache-Control", "no-store")])
        return [body]

    return app


def metrics_server_start(*, port: int, token: str, host: str = "0.0.0.0"):
    server = make_server(host, port, metrics_app(token), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    logger.info("metrics served on %s:%s/metrics", host, port)
    return server
