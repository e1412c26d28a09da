"""Every log line of a request carries its X-Request-ID and user id, and so does every line of the
Celery task it enqueued, run by the real embedded worker in another thread (the id crosses in the
message's headers); outside the request the context is empty."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest
from celery import shared_task
from django.http import HttpResponse
from django.urls import path

from core.logging.json_format import JsonFormatter
from core.logging.scrub import ScrubFilter

pytestmark = pytest.mark.django_db
LOGGER = "core.tests.logprobe"
TASK = "core.tests.log_probe"
ran = threading.Event()


@shared_task(name=TASK, ignore_result=True)
def log_probe(word: str) -> None:
    logging.getLogger(LOGGER).info("task says %s", word)
    ran.set()


def probe_view(request):
    logging.getLogger(LOGGER).info("view says hi to %s", request.user.email)
    log_probe.delay("hello")
    return HttpResponse("ok")


urlpatterns = [path("probe/", probe_view)]


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ScrubFilter())
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


@pytest.fixture
def embedded_worker(settings, monkeypatch):
    if not settings.CELERY_EMBEDDED:
        pytest.skip("the embedded worker runs only on the in-memory broker (one pass is enough)")
    from celery import current_app
    from celery.fixups.django import DjangoWorkerFixup

    # the worker closes the database connections around each task: here they are the test's own
    monkeypatch.setattr(DjangoWorkerFixup, "_close_database", lambda self: None)

    from core.embedded import start_embedded_celery

    worker = start_embedded_celery(current_app._get_current_object(), with_beat=False)
    yield worker
    worker.stop(in_sighandler=False)
    # a worker in this process marks the whole process as "inside a worker" (result.get() refused): the
    # tests that run after this one are not in one
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


def test_the_request_id_and_user_follow_the_request_into_its_task(client, user, settings, lines, embedded_worker):
    settings.ROOT_URLCONF = __name__
    client.force_login(user)
    ran.clear()
    response = client.get("/probe/", headers={"X-Request-ID": "req-logs-0001abcd"})
    assert response.status_code == 200 and response["X-Request-ID"] == "req-logs-0001abcd"
    assert ran.wait(timeout=30), "the task never ran"
    logging.getLogger(LOGGER).info("after the request")
    view, task, after = lines()
    assert (view["message"], view["request_id"], view["user_id"], view["task"]) == (
        "view says hi to alice@example.com", "req-logs-0001abcd", user.pk, None)
    assert (task["message"], task["request_id"], task["user_id"], task["task"]) == (
        "task says hello", "req-logs-0001abcd", user.pk, TASK)
    assert task["task_id"] and task["time"].endswith("Z") and task["level"] == "INFO"
    assert (after["request_id"], after["user_id"], after["task"]) == (None, None, None)
