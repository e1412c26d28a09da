"""Fail-fast checks of the production environment.

Pure Python (no Django import): it runs before settings load, from ``manage.py``,
the ASGI app and the Celery app, so a bad deployment stops at start-up with one
line per bad variable instead of failing later on the first request.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

EXAMPLE_FILE = Path(__file__).resolve().parent.parent / ".env.example"

# variable -> what is expected, in words an operator can act on.
REQUIRED_IN_PRODUCTION: dict[str, str] = {
    "SECRET_KEY": "a random string of at least 50 characters",
    "ALLOWED_HOSTS": "a comma-separated list of host names, e.g. trade.example.kr",
    "SITE_URL": "the public https:// address of the site, e.g. https://trade.example.kr",
    "DATABASE_URL": "a PostgreSQL URL, e.g. postgres://user:password@db:5432/platform",
    "REDIS_URL": "a Redis URL, e.g. redis://redis:6379/0",
    "EMAIL_URL": "an SMTP URL, e.g. smtp+tls://user:password@smtp.example.kr:587",
    "DEFAULT_FROM_EMAIL": "the sender address of outgoing mail, e.g. no-reply@example.kr",
    "FIELD_ENCRYPTION_KEYS": "comma-separated Fernet keys (newest first) from "
    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`",
}

# Secrets must never keep the example file's value, even a plausible-looking one.
# (Addresses such as REDIS_URL=redis://redis:6379/0 may rightly stay as in the example.)
SECRETS = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "EMAIL_URL")

PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "placeholder", "xxx", "todo")

# Names reserved for documentation (RFC 2606, RFC 6761): no real site answers there.
EXAMPLE_DOMAINS = ("example", "example.com", "example.net", "example.org", "invalid", "test")


def example_values(path: Path = EXAMPLE_FILE) -> dict[str, str]:
    """The values written in the example env file: shipping them is a mistake."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def is_placeholder(value: str, example: str | None = None) -> bool:
    lowered = value.strip().lower()
    if not lowered:
        return True
    if example and value.strip() == example:
        return True
    if lowered.startswith("your-") or lowered.startswith("your_"):
        return True
    return any(word in lowered for word in PLACEHOLDER_WORDS)


def production_problems(environ: Mapping[str, str], examples: Mapping[str, str]) -> list[str]:
    """One message per missing or placeholder variable; empty when all is well."""
    problems = []
    for name, expected in REQUIRED_IN_PRODUCTION.items():
        value = environ.get(name)
        if value is None:
            problems.append(f"{name} is missing: expected {expected}.")
        elif is_placeholder(value, examples.get(name) if name in SECRETS else None):
            problems.append(f"{name} holds a placeholder value: expected {expected}.")
        elif host := example_host(name, value):
            problems.append(f"{name} holds a placeholder value ({host} is an example address): expected {expected}.")
        elif not _looks_right(name, value):
            problems.append(f"{name} is not valid: expected {expected}.")
    return problems


def example_host(name: str, value: str) -> str | None:
    """The first host name in an address variable that is an example (``your-domain.example``,
    ``example.com``) rather than the site's own; None when there is none."""
    if name in ("SITE_URL", "EMAIL_URL"):
        hosts = [urlsplit(value.strip()).hostname or ""]
    elif name == "ALLOWED_HOSTS":
        hosts = [host.strip().lstrip(".") for host in value.split(",")]
    elif name == "DEFAULT_FROM_EMAIL":
        hosts = [value.strip().rstrip(">").rpartition("@")[2]]
    else:
        return None
    for host in filter(None, (host.lower().rstrip(".") for host in hosts)):
        labels = host.split(".")
        if any(label.startswith(("your-", "your_")) for label in labels) or any(
            host == domain or host.endswith("." + domain) for domain in EXAMPLE_DOMAINS
        ):
            return host
    return None


def _looks_right(name: str, value: str) -> bool:
    if name == "SECRET_KEY":
        return len(value) >= 50 and len(set(value)) >= 5
    if name == "SITE_URL":
        return value.startswith("https://")
    if name == "DATABASE_URL":
        return value.startswith(("postgres://", "postgresql://", "pgsql://"))
    if name == "REDIS_URL":
        return value.startswith(("redis://", "rediss://"))
    if name == "EMAIL_URL":
        return value.startswith(("smtp://", "smtps://", "smtp+tls://", "smtp+ssl://"))
    return True


def enforce(environ: Mapping[str, str] | None = None) -> None:
    """Exit non-zero, naming each bad variable, when production is misconfigured."""
    environ = os.environ if environ is None else environ
    if environ.get("DJANGO_ENV", "development") != "production":
        return
    problems = production_problems(environ, example_values())
    if problems:
        print("Refusing to start in production: fix these environment variables.", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        sys.exit(78)  # EX_CONFIG
