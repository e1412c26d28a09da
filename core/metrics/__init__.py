"""Prometheus metrics of the platform (prometheus-client in multi-process mode).

Every process (each daphne process of ``manage.py serve``, each Celery prefork child, beat) writes
its samples to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``; a scrape of ``/metrics`` (or of
a worker's own metrics port) adds them up with ``MultiProcessCollector``. The directory must be
chosen before ``prometheus_client`` is first imported, so this package sets it up on import
(``core.metrics.setup``) and every metric lives in ``core.metrics.series``.

Import the series through this package only: ``from core.metrics import series``.
"""

from core.metrics.setup import multiproc_dir

multiproc_dir()  # before any ``import prometheus_client``

__all__ = ["multiproc_dir"]
