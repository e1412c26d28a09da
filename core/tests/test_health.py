"""/health and /ready, with services up and down."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import health

ROOT = Path(__file__).resolve().parents[2]


def test_health_touches_nothing(client):
    # No database fixture: any query here would raise.
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def running_worker(settings):
    """A real worker: a thread on the in-memory broker (./dev run), or a separate process (full stack)."""
    from celery import current_app as app

    if settings.CELERY_EMBEDDED:
        from core.embedded import start_embedded_celery

        worker = start_embedded_celery(app._get_current_object(), concurrency=1, with_beat=False)
        yield
        worker.stop(in_sighandler=False)
        return
    env = {**os.environ, "DATABASE_URL": database_url()}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-l", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(timeout=0.5, limit=1):
            assert time.monotonic() < deadline, "the worker process did not answer within 30 s"
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_ready_is_200_naming_each_check_when_all_pass(client, running_worker):
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "cache", "channel_layer", "celery"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_naming_celery_when_no_worker_answers(client, settings):
    settings.READY_CELERY_TIMEOUT = 0.5
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["celery"]["ok"] is False
    assert "no Celery worker answered" in body["checks"]["celery"]["error"]
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_naming_redis_checks_when_redis_is_down(client, settings, monkeypatch):
    if not settings.REDIS_URL:
        pytest.skip("embedded mode has no Redis (full-stack CI runs this)")
    from celery import current_app as app

    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}}
    settings.READY_CELERY_TIMEOUT = 0.5
    monkeypatch.setattr(app.conf, "broker_url", dead)
    response = client.get("/ready")
    checks = response.json()["checks"]
    assert response.status_code == 503
    assert {name for name, check in checks.items() if not check["ok"]} == {"cache", "channel_layer", "celery"}
    assert checks["database"]["ok"] is True


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
