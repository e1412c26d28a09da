"""The request id (and user id) follow a request into the Celery tasks it enqueues: the publisher
adds them as message headers (``before_task_publish``), the worker binds them for the task's run
(``task_prerun``) and drops them after (``task_postrun``). ``connect()`` is called once by
``core.apps.CoreConfig.ready``.

A task run eagerly (``apply()``) runs in its caller's context: its lines already carry the request.
"""

from __future__ import annotations

import threading

from core.logging import context

REQUEST_HEADER, USER_HEADER = "request_id", "user_id"
_bound: dict[str, list] = {}
_lock = threading.Lock()
_connected = False


def on_publish(headers=None, **_kwargs) -> None:
    if headers is None:
        return
    request_id, user_id = context.current_request_id(), context.current_user_id()
    if request_id and REQUEST_HEADER not in headers:
        headers[REQUEST_HEADER] = request_id
    if user_id is not None and USER_HEADER not in headers:
        headers[USER_HEADER] = user_id


def on_prerun(task_id=None, task=None, **_kwargs) -> None:
    request = getattr(task, "request", None)
    request_id = getattr(request, REQUEST_HEADER, None)
    user_id = getattr(request, USER_HEADER, None)
    if request_id is None and getattr(request, "is_eager", False):  # the caller's context goes on
        request_id, user_id = context.current_request_id(), context.current_user_id()
    tokens = context.task_bind(name=getattr(task, "name", "") or "", task_id=str(task_id or ""),
                               request_id=request_id if isinstance(request_id, str) else None,
                               user_id=user_id if isinstance(user_id, int) else None)
    with _lock:
        _bound[str(task_id)] = tokens


def on_postrun(task_id=None, **_kwargs) -> None:
    with _lock:
        tokens = _bound.pop(str(task_id), None)
    if tokens is not None:
        context.unbind(tokens)


def connect() -> None:
    global _connected
    if _connected:
        return
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(on_publish, weak=False, dispatch_uid="core.logging.publish")
    task_prerun.connect(on_prerun, weak=False, dispatch_uid="core.logging.prerun")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid="core.logging.postrun")
    _connected = True
