"""Embedded mode: a real Celery worker and beat as threads of the web process.

With kombu's in-memory transport the broker lives in this process, so the
worker must too. Tasks stay asynchronous (``delay()`` returns at once and the
worker thread runs them), exactly as with a Redis broker and separate processes.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery, beat
from celery.worker import WorkController

logger = logging.getLogger(__name__)


class EmbeddedWorker(WorkController):
    """A worker that can say when it is ready to take tasks."""

    def __init__(self, *args, **kwargs) -> None:
        self.started = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer) -> None:
        self.started.set()


def start_embedded_celery(app: Celery, *, concurrency: int = 2, with_beat: bool = True) -> EmbeddedWorker:
    """Start the worker (and beat) in daemon threads and wait until the worker consumes."""
    app.set_current()
    app.set_default()
    app.finalize()
    worker = EmbeddedWorker(
        app=app,
        hostname="embedded@%h",
        pool="threads",
        concurrency=concurrency,
        loglevel="INFO",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="celery-worker", daemon=True).start()
    if not worker.started.wait(timeout=30):
        raise RuntimeError("the embedded Celery worker did not start within 30 s")
    if with_beat:
        beat.EmbeddedService(app, thread=True).start()
    logger.info("Embedded Celery worker%s running", " and beat" if with_beat else "")
    return worker
