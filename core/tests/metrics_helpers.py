"""Helpers of the metrics tests: the middleware switched on, scrapes parsed into samples."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

MIDDLEWARE = "core.metrics.middleware.MetricsMiddleware"
TOKEN = "metrics-test-token"


@pytest.fixture
def metered(settings):
    """The metrics middleware near the top (until settings have it) and the test URLs, with a token."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        settings.MIDDLEWARE = [settings.MIDDLEWARE[0], MIDDLEWARE, *settings.MIDDLEWARE[1:]]
    settings.ROOT_URLCONF = "core.tests.metrics_urls"
    settings.METRICS_TOKEN = TOKEN
    return settings


def scrape_text(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, frozenset of labels): value} of one scrape."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)
