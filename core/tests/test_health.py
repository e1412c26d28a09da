"""/health and /ready, with services up and down."""

import pytest
from django.conf import settings as django_settings

from core import health


def test_health_touches_nothing(client):
    # No database fixture: any query here would raise.
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def embedded_worker():
    """A real worker thread on the in-memory broker (what ./dev run starts)."""
    if not django_settings.CELERY_EMBEDDED:
        pytest.skip("full stack: the worker is a separate process")
    from config.celery_app import app
    from core.embedded import start_embedded_celery

    worker = start_embedded_celery(app, concurrency=1, with_beat=False)
    yield worker
    worker.stop(in_sighandler=False)


@pytest.mark.django_db(transaction=True)
def test_ready_is_200_naming_each_check_when_all_pass(client, embedded_worker):
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "celery"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_naming_celery_when_no_worker_answers(client, settings):
    settings.READY_CELERY_TIMEOUT = 0.5
    if not settings.CELERY_EMBEDDED:
        # Full stack: a broker on which no worker listens.
        from config.celery_app import app

        app.conf.broker_url = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/15"
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["celery"]["ok"] is False
    assert "no Celery worker answered" in body["checks"]["celery"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_a_failing_check_is_named_and_a_hanging_one_times_out(db):
    def broken():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    def hanging():
        import time

        time.sleep(3)

    results = {r.name: r for r in health.run_checks({"cache": broken, "celery": hanging, "ok": lambda: None}, timeout=0.5)}
    assert results["cache"].ok is False and "Connection refused" in results["cache"].error
    assert results["celery"].ok is False and results["celery"].error == "timed out after 0.5 s"
    assert results["ok"].ok is True
