"""One scrape: every process's samples from the multi-process directory, plus (web only) what the
database and the broker queue say now."""

from __future__ import annotations

import logging

from core.metrics.setup import multiproc_dir
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

logger = logging.getLogger("core.metrics")


class _Safe:
    """A collector that failed (database down) drops its series instead of failing the scrape:
    ``up`` stays about the process, and the missing series fire their ``absent`` alerts."""

    def __init__(self, collector) -> None:
        self.collector = collector

    def collect(self):
        try:
            return list(self.collector.collect())
        except Exception:  # noqa: BLE001 - a scrape never fails on one collector
            logger.exception("metrics: %s failed", type(self.collector).__name__)
            return []


def scrape(*, with_ledger: bool) -> tuple[bytes, str]:
    """The text exposition and its content type."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc_dir())
    if with_ledger:
        from core.metrics.collectors import LedgerCollector, QueueCollector

        registry.register(_Safe(LedgerCollector()))
        registry.register(_Safe(QueueCollector()))
    return generate_latest(registry), CONTENT_TYPE_LATEST
