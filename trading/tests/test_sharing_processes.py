"""One app key hammered from several real OS processes: the broker sees one token issuance and never
more requests in a second than the key's limit.

Each process is what a server or Celery worker process is: Django set up from the environment, a
``KisClient`` on the mode's shared stores (``trading.sharing``), against the fake KIS served by the
test process. Two modes: embedded (the database cache and ``DatabaseBudget`` on this pass's database:
the SQLite file, or PostgreSQL in the PostgreSQL pass) and Redis (only when ``REDIS_URL`` is set).

Run as a module, this file is one such process: ``python -m trading.tests.test_sharing_processes CONFIG``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")
PROCESSES, THREADS, SECONDS, LIMIT = 4, 2, 3.0, 10
SYMBOL = "005930"


# -- one process ----------------------------------------------------------------------------------
def hammer(config: dict[str, Any]) -> dict[str, Any]:
    """Set up Django from the environment, then ``trading.fakes.load.hammer``."""
    import django

    django.setup()
    from trading.fakes.load import hammer as quote_hard

    return quote_hard(config)


if __name__ == "__main__":
    print(json.dumps(hammer(json.loads(sys.argv[1]))), flush=True)
    sys.exit(0)


# -- the tests ------------------------------------------------------------------------------------
pytestmark = pytest.mark.django_db(transaction=True)


def database_url(settings_dict: dict[str, Any]) -> str:
    """This test's database (pytest-django's test database) as a DATABASE_URL for a child process."""
    engine, name = settings_dict["ENGINE"], str(settings_dict["NAME"])
    if "sqlite3" in engine:
        return f"sqlite:///{(ROOT / name).resolve()}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host, port = settings_dict.get("HOST") or "localhost", settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(name, safe='')}"


@pytest.fixture
def fake_kis():
    from trading.fakes.kis import FakeKis

    server = FakeKis(rate_limits={"real": LIMIT}).start()
    yield server
    server.stop()


@pytest.fixture
def embedded_cache(settings):
    """Embedded mode's token cache on this pass's database (the PostgreSQL pass configures Redis)."""
    from django.core.management import call_command

    settings.CACHES = {**settings.CACHES, "brokers": {"BACKEND": "trading.sharing.BrokerDatabaseCache",
                                                      "LOCATION": "broker_cache"}}  # fmt: skip
    call_command("createcachetable", verbosity=0)


def run_processes(fake: Any, tmp_path: Path, *, redis_url: str) -> tuple[str, list[dict[str, Any]]]:
    """Start the processes on one fresh app key, let them go together, return the key and results."""
    from django.db import connection

    app_key, secret = "PS" + uuid.uuid4().hex + "0" * 2, "secret-" + uuid.uuid4().hex * 5
    fake.add_account(app_key, secret, "50001234-01", environment="real", cash=1_000_000)
    fake.set_price(SYMBOL, 70100, name="삼성전자")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": redis_url,
           "DATABASE_URL": database_url(connection.settings_dict), "PYTHONPATH": str(ROOT)}  # fmt: skip
    go = tmp_path / "go"
    processes = []
    for i in range(PROCESSES):
        config = {"app_key": app_key, "app_secret": secret, "account_no": "5000123401", "base_url": fake.url,
                  "per_second": LIMIT, "seconds": SECONDS, "threads": THREADS,
                  "ready": str(tmp_path / f"ready-{i}"), "go": str(go)}  # fmt: skip
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "trading.tests.test_sharing_processes", json.dumps(config)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{i}").exists() for i in range(PROCESSES)):
            dead = [p for p in processes if p.poll() is not None]
            assert not dead and time.monotonic() < deadline, [p.communicate() for p in dead]
            time.sleep(0.02)
        go.touch()
        outputs = [p.communicate(timeout=60) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    return app_key, [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def assert_shared(fake: Any, app_key: str, results: list[dict[str, Any]]) -> None:
    assert [code for r in results for code in r["errors"]] == []
    assert fake.token_issuances(app_key) == 1 and fake.count("/oauth2/tokenP") == 1  # asked once, too
    assert fake.max_per_window(path_prefix="/uapi", app_key=app_key) <= LIMIT
    assert sum(r["rate_limited"] for r in results) == 0
    quotes = [r["quotes"] for r in results]
    assert all(quotes) and sum(quotes) > 2 * LIMIT, quotes  # every process worked; the limit was contended


def test_processes_in_embedded_mode_share_one_token_and_one_budget(fake_kis, embedded_cache, tmp_path):
    app_key, results = run_processes(fake_kis, tmp_path, redis_url="")

    assert {r["budget"] for r in results} == {"DatabaseBudget"}
    assert_shared(fake_kis, app_key, results)


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (the PostgreSQL/Redis pass)")
def test_processes_on_redis_share_one_token_and_one_budget(fake_kis, tmp_path):
    app_key, results = run_processes(fake_kis, tmp_path, redis_url=REDIS_URL)

    assert {r["budget"] for r in results} == {"RedisBudget"}
    assert_shared(fake_kis, app_key, results)
