"""What every log line carries: the request id, the user id and the Celery task, in contextvars.

A request binds them in ``notifications.request_ids.RequestIdMiddleware`` (:func:`request_bound`):
the user is read lazily, at the first line logged after authentication resolved it (reading it
never costs a query of its own). A task binds them in ``core.logging.celery`` from the headers its
publisher added. :func:`fields` is what a formatter or a Sentry event reads.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.utils.functional import empty

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("log_request_id", default=None)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("log_user_id", default=None)
request_var: contextvars.ContextVar[Any] = contextvars.ContextVar("log_request", default=None)
task_var: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("log_task", default=None)


def _user_id_of(request: Any) -> int | None:
    """The signed-in user's id if authentication already resolved it, else None (no query)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)  # a SimpleLazyObject not yet evaluated: unknown
    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.pk


def current_request_id() -> str | None:
    return request_id_var.get()


def current_user_id() -> int | None:
    request = request_var.get()
    if request is not None:
        found = _user_id_of(request)
        if found is not None:
            return found
    return user_id_var.get()


def fields(record: Any = None) -> dict[str, Any]:
    """``request_id``, ``user_id``, ``task`` and ``task_id`` of the running request or task (None
    outside); Django's own ``django.request`` lines name their request when the context is gone."""
    request_id, user_id = current_request_id(), current_user_id()
    request = getattr(record, "request", None)
    if request_id is None and request is not None and hasattr(request, "__dict__"):
        request_id = getattr(request, "request_id", None)
        user_id = _user_id_of(request)
    task = task_var.get()
    return {"request_id": request_id, "user_id": user_id,
            "task": task[0] if task else None, "task_id": task[1] if task else None}


@contextmanager
def request_bound(request: Any) -> Iterator[None]:
    """The request's id and (lazily) user for every line logged inside."""
    tokens = (request_id_var.set(getattr(request, "request_id", None)), request_var.set(request),
              user_id_var.set(None))
    try:
        yield
    finally:
        user_id_var.reset(tokens[2])
        request_var.reset(tokens[1])
        request_id_var.reset(tokens[0])


def task_bind(*, name: str, task_id: str, request_id: str | None, user_id: int | None) -> list:
    """Binds a task's context (the request that enqueued it, if any); returns what :func:`unbind` takes."""
    return [(task_var, task_var.set((name, task_id))),
            (request_id_var, request_id_var.set(request_id or None)),
            (user_id_var, user_id_var.set(user_id)), (request_var, request_var.set(None))]


def unbind(tokens: list) -> None:
    for var, token in reversed(tokens):
        try:
            var.reset(token)
        except ValueError:  # set in another context (a pool's other thread): just clear it
            var.set(None)
