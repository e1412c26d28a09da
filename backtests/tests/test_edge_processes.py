"""The edge cache (core.edge) across server processes: a forget in one process (a revoked token, a
sign-out, a saved user) stops every process's kept answers at once, and a process that cannot hear
forgets answers nothing from its tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from accounts.models import ApiToken
from accounts.services import api_token_revoke
from backtests.tests.test_edge import finish_run, get, hit, token_of
from core import edge
from core.edge_bus import Bus

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="the cross-process path is Redis pub/sub: set REDIS_URL "
                                                       "(the PostgreSQL/Redis pass)")  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_edge():
    edge.clear()
    yield
    edge.clear()


@pytest.fixture
def bus(settings, monkeypatch):
    """This test process's own listener, as a server process starts it."""

    def start(url: str) -> Bus:
        settings.REDIS_URL = url
        fresh = Bus(on_forget=edge._forget_here, on_reset=edge.clear)
        monkeypatch.setattr(edge, "_bus", fresh)
        started.append(fresh)
        return fresh

    started: list[Bus] = []
    yield start
    for each in started:
        each.stop()


@pytest.fixture
def finished(user, sample_market, media, no_worker, django_capture_on_commit_callbacks):
    return finish_run(user, django_capture_on_commit_callbacks)


def forget_in_another_process(user_id: int) -> None:
    """What the signal receivers do in another server process when the user's token is revoked there."""
    code = ("import django; django.setup(); from core import edge; "
            f"edge.forget_user({user_id})")  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": REDIS_URL,
           "DATA_DIR": os.environ.get("DATA_DIR", "/tmp")}  # fmt: skip
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)


@needs_redis
def test_a_forget_in_another_process_stops_this_processs_kept_answers_at_once(bus, user, finished):
    bus(REDIS_URL)
    app = edge.EdgeCache(_django())
    path = f"/api/v1/backtests/{finished.pk}/results/"
    auth = {"Authorization": f"Token {token_of(user)}"}
    get(app, path, auth)
    assert hit(get(app, path, auth))

    forget_in_another_process(user.pk)
    again = get(app, path, auth)
    assert not hit(again) and again["status"] == 200  # Django authenticated it again


@needs_redis
def test_a_token_revoked_here_is_announced_to_the_other_processes(bus, user, finished):
    listening = bus(REDIS_URL)
    listening.listen()
    heard: list[tuple[str, int | str]] = []
    other = Bus(on_forget=lambda kind, value: heard.append((kind, value)), on_reset=lambda: None)
    other.listen()  # "another process" hearing this one
    try:
        assert listening.hears_forgets() and other.hears_forgets()
        token_of(user)
        api_token_revoke(token=ApiToken.objects.get(user=user))
        _wait_for(lambda: ("user", user.pk) in heard)
    finally:
        other.stop()


def test_a_process_that_cannot_hear_forgets_answers_nothing_from_its_tables(bus, user, finished):
    bus("redis://127.0.0.1:1/0")  # nothing listens there: the subscription never comes
    app = edge.EdgeCache(_django())
    path = f"/api/v1/backtests/{finished.pk}/results/"
    auth = {"Authorization": f"Token {token_of(user)}"}
    answers = [get(app, path, auth) for _ in range(3)]
    assert [a["status"] for a in answers] == [200] * 3 and not any(hit(a) for a in answers)


def test_an_answer_whose_user_was_forgotten_while_django_rendered_it_is_not_kept(user, finished):
    """A revocation racing a request: the request authenticated before it, answers after it."""
    django = _django()
    path = f"/api/v1/backtests/{finished.pk}/results/"

    async def revoked_meanwhile(scope, receive, send):
        async def send_after_forget(message):
            if message["type"] == "http.response.start":
                edge.forget_user(user.pk)  # another thread revoked the token while the view ran
            await send(message)

        await django(scope, receive, send_after_forget)

    auth = {"Authorization": f"Token {token_of(user)}"}
    assert get(edge.EdgeCache(revoked_meanwhile), path, auth)["status"] == 200
    assert not hit(get(edge.EdgeCache(django), path, auth))


def test_a_forget_inside_a_transaction_is_repeated_when_it_commits(user, finished):
    """Until the change commits, Django still sees the old state and may keep it again."""
    app = edge.EdgeCache(_django())
    path = f"/api/v1/backtests/{finished.pk}/results/"
    auth = {"Authorization": "Token kept-while-the-revocation-was-not-committed"}
    with transaction.atomic():
        edge.forget_user(user.pk)  # as the receivers do when the token is deleted
        kept_by_a_request_that_read_the_old_state(user, path, auth["Authorization"])
        assert hit(get(app, path, auth))
    answer = get(app, path, auth)
    assert not hit(answer) and answer["status"] == 401


def kept_by_a_request_that_read_the_old_state(user, path: str, authorization: str) -> None:
    """What the edge keeps when a view answers the results API (edge.keep, then the edge stores it)."""
    offer = edge.Offer(kind=edge.API, key=(edge.API, path), credential="authorization:" + authorization,
                       user_id=user.pk, look=(), owner_id=user.pk, tag="backtest:kept", parts=(b"{}",))  # fmt: skip
    edge.EdgeCache._store(offer, [(b"content-type", b"application/json")], next(edge._ticks))


def _django():
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


def _wait_for(predicate, seconds: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "not heard"
        time.sleep(0.01)
