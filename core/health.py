"""Readiness checks: each one names itself, runs with a time limit and says why it failed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    ms: float
    error: str = ""

    def as_dict(self) -> dict:
        body = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            body["error"] = self.error
        return body


def check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # Checks run in pool threads: give the connection back.
        connections.close_all()


def check_cache() -> None:
    key = f"ready:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was written")
    cache.delete(key)


def check_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")

    async def round_trip() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "ready.ping"})
        message = await layer.receive(channel)
        if message.get("type") != "ready.ping":
            raise RuntimeError("the channel layer returned another message")

    async_to_sync(round_trip)()


def check_celery() -> None:
    from celery import current_app as app  # the platform's app: the shared kernel does not import config

    # A fresh connection from the current settings (not the pool), closed after.
    with app.connection_for_write() as connection:
        replies = app.control.ping(timeout=settings.READY_CELERY_TIMEOUT, limit=1, connection=connection)
    if not replies:
        raise RuntimeError(f"no Celery worker answered a ping within {settings.READY_CELERY_TIMEOUT:g} s")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "channel_layer": check_channel_layer,
    "celery": check_celery,
}


def _timed(name: str, check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # a check reports any failure, it never raises
        return CheckResult(name, False, (time.perf_counter() - started) * 1000, f"{type(exc).__name__}: {exc}")
    return CheckResult(name, True, (time.perf_counter() - started) * 1000)


def run_checks(checks: dict[str, Callable[[], None]] | None = None, *, timeout: float | None = None) -> list[CheckResult]:
    """Run every check in parallel; one that outlives ``timeout`` seconds fails as timed out."""
    checks = CHECKS if checks is None else checks
    timeout = timeout if timeout is not None else settings.READY_CELERY_TIMEOUT + 3
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="ready")
    futures = {name: pool.submit(_timed, name, check) for name, check in checks.items()}
    deadline = time.monotonic() + timeout
    results = []
    for name, future in futures.items():
        try:
            results.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            results.append(CheckResult(name, False, timeout * 1000, f"timed out after {timeout:g} s"))
    pool.shutdown(wait=False, cancel_futures=True)
    return results
