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
