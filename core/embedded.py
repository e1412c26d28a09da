"""Embedded mode: a real Celery worker and beat as threads of the web process.

With kombu's in-memory transport the broker lives in this process, so the
worker must too. Tasks stay asynchronous (``delay()`` returns at once and the
worker thread runs them), exactly as with a Redis broker and separate processes.

It behaves as ``celery worker`` and ``celery beat`` do in the full stack: the worker sends
``worker_ready`` once it consumes (the backtest engine warms up on it), and the beat uses the
configured scheduler (``beat_scheduler``: django-celery-beat's database schedule, so periodic tasks
made in the admin run here too). Celery's embedded beat would otherwise fall back to its file
scheduler and ignore the database.
"""

from __future__ import annotations

import logging
import threading

from celery import Celery, beat, signals
from celery.utils.nodenames import host_format
from celery.worker import WorkController

logger = logging.getLogger(__name__)


class EmbeddedWorker(WorkController):
    """A worker that can say when it is ready to take tasks, and that stops its beat with it."""

    def __init__(self, *args, **kwargs) -> None:
        self.started = threading.Event()
        self.beat: threading.Thread | None = None  # beat.EmbeddedService(thread=True)
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer) -> None:
        self.started.set()  # the web process goes on serving while the handlers below run
        # As celery.apps.worker.Worker does: handlers run in the worker's thread before it consumes.
        signals.worker_ready.send(sender=consumer)
        logger.info("%s ready.", self.hostname)

    def shutdown(self) -> None:
        """Stop the beat (waiting for its last schedule sync), then the worker."""
        if self.beat is not None:
            self.beat.stop()
        self.stop(in_sighandler=False)


def start_embedded_celery(app: Celery, *, concurrency: int = 2, with_beat: bool = True) -> EmbeddedWorker:
    """Start the worker (and beat) in daemon threads and wait until the worker consumes."""
    app.set_current()
    app.set_default()
    app.finalize()
    worker = EmbeddedWorker(
        app=app,
        hostname=host_format("embedded@%h"),  # as `celery worker -n` expands it
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
        worker.beat = beat.EmbeddedService(app, thread=True, scheduler_cls=app.conf.beat_scheduler)
        worker.beat.start()
    logger.info("Embedded Celery worker%s running", " and beat" if with_beat else "")
    return worker
