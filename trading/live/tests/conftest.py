"""Deployment tests read the messages in English: alice's pages and the services' errors."""

from __future__ import annotations

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def user(user):
    user.language = "en"
    user.save(update_fields=["language"])
    return user
