"""Fixtures every app's tests share: two users (alice and bob) and API clients for each."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # never the developer's var/: after `./dev run` it holds the sample bars and results
    settings.MARKET_DATA_ROOT = tmp_path / "marketdata"
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()  # rate limits and throttles start fresh in every test
    # no test ever reaches a real broker: every broker URL refuses connections at once
    # (tests that need a broker start a fake one and point the setting at it)
    for name in ("KIS_REAL", "KIS_MOCK", "KIWOOM_REAL", "KIWOOM_MOCK"):
        setattr(settings, f"BROKER_{name}_URL", "http://127.0.0.1:9")


@pytest.fixture
def user(db):
    return UserFactory(email="alice@example.com")


@pytest.fixture
def other_user(db):
    return UserFactory(email="bob@example.com")


@pytest.fixture
def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_api_client(other_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(other_user)
    return client


@pytest.fixture
def anon_api_client() -> APIClient:
    return APIClient()


# Pure-core tests (the engine, signals, the bar store, calendars, ticks, the broker clients against
# their fakes): no database, no cache, no channel layer, so PostgreSQL and Redis change nothing they
# see. They run once, in the embedded pass (the README's test command); the full-stack pass skips
# them. A module listed here that asks for the database is an error, so the list cannot go stale.
PURE_CORE_MODULES = frozenset({
    "backtests/tests/test_engine.py", "backtests/tests/test_engine_helpers.py",
    "backtests/tests/test_engine_intraday.py", "backtests/tests/test_engine_lots.py",
    "backtests/tests/test_engine_metrics.py", "backtests/tests/test_engine_parallel.py",
    "backtests/tests/test_engine_properties.py", "backtests/tests/test_format.py",
    "backtests/tests/test_pipeline.py", "strategies/tests/test_signals.py",
    "strategies/tests/test_signals_reference.py", "marketdata/tests/test_calendars.py",
    "marketdata/tests/test_store.py", "marketdata/tests/test_ticks.py", "marketdata/tests/test_validation.py",
})
PURE_CORE_REASON = "pure core (no database, cache or broker): it runs in the embedded pass"
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_setup", "live_server_url", "user", "other_user"}


def pytest_collection_modifyitems(config, items) -> None:
    from pathlib import Path

    from django.conf import settings

    root = Path(__file__).resolve().parent
    full_stack = "postgresql" in settings.DATABASES["default"]["ENGINE"]
    for item in items:
        try:
            module = Path(str(item.path)).resolve().relative_to(root).as_posix()
        except ValueError:
            continue
        if module not in PURE_CORE_MODULES:
            continue
        if item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid} uses the database: take {module} out of PURE_CORE_MODULES")
        if full_stack:
            item.add_marker(pytest.mark.skip(reason=PURE_CORE_REASON))
