"""Embedded mode (`./dev run`) behaves like the full stack: the worker announces it is ready (the
engine warm-up listens for that) and the beat reads django-celery-beat's schedule from the database
(periodic tasks made in the admin run)."""

from __future__ import annotations

import threading

import pytest
from celery import current_app, shared_task

PROBE_RUNS = threading.Event()


@shared_task(name="core.tests.test_embedded.beat_probe")
def beat_probe() -> None:
    PROBE_RUNS.set()


@pytest.fixture
def embedded(settings):
    if not settings.CELERY_EMBEDDED:
        pytest.skip("the embedded worker runs only on the in-memory broker")
    from core.embedded import start_embedded_celery

    started = []

    def start(**kwargs):
        started.append(start_embedded_celery(current_app._get_current_object(), **kwargs))
        return started[-1]

    yield start
    for worker in started:
        worker.shutdown()


def test_the_engine_warm_up_runs_when_the_embedded_worker_starts(embedded, monkeypatch):
    from backtests import pipeline

    warmed = threading.Event()
    monkeypatch.setattr(pipeline, "warm_up", lambda: warmed.set() or 2)

    embedded(with_beat=False)

    assert warmed.wait(timeout=30), "the worker_ready handler (backtests.tasks.warm_up_engine) never ran"


@pytest.mark.django_db(transaction=True)
def test_a_periodic_task_made_in_the_database_runs_under_the_embedded_beat(embedded, monkeypatch):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from backtests import pipeline

    monkeypatch.setattr(pipeline, "warm_up", lambda: 0)
    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="probe (made in the admin)", task=beat_probe.name, interval=every_second)
    PROBE_RUNS.clear()

    worker = embedded(with_beat=True)

    assert type(worker.beat.service.scheduler).__name__ == "DatabaseScheduler"
    assert PROBE_RUNS.wait(timeout=30), "the embedded beat never sent the database's periodic task"
