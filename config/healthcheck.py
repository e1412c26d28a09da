"""Container health check for the web service: exit 0 when /health answers 200, 1 otherwise.

Standard library only, no Django import, so it stays cheap to run every few seconds:

    python config/healthcheck.py

The request carries ``Host`` set to the first entry of ALLOWED_HOSTS (Django answers 400
to an unknown host) and ``X-Forwarded-Proto: https`` (production redirects plain http).
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Mapping

HOST = "127.0.0.1"
PORT = 8000
PATH = "/health"
TIMEOUT = 3.0


def host_header(environ: Mapping[str, str] = os.environ) -> str:
    """The first ALLOWED_HOSTS entry that a Host header can carry; 127.0.0.1 when none."""
    for entry in environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip()
        if entry.startswith("."):  # ".example.kr" allows example.kr and its subdomains
            entry = entry[1:]
        if entry and entry != "*":
            return entry
    return "127.0.0.1"


def main() -> int:
    connection = http.client.HTTPConnection(HOST, PORT, timeout=TIMEOUT)
    try:
        connection.request("GET", PATH, headers={"Host": host_header(), "X-Forwarded-Proto": "https"})
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"unhealthy: GET {PATH} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
