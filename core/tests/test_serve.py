"""`manage.py serve`: one process in embedded mode, several daphne processes on one port otherwise."""

import socket

import pytest
from django.core.management import CommandError, call_command

from core.management.commands import serve


def test_embedded_mode_refuses_several_processes_and_says_why(settings):
    settings.CELERY_EMBEDDED = True
    with pytest.raises(CommandError, match="embedded mode serves from one process.*set REDIS_URL"):
        call_command("serve", "--workers", "2")
    assert serve.default_workers() == 1


def test_full_stack_defaults_to_serve_workers_or_one_per_cpu(settings, monkeypatch):
    settings.CELERY_EMBEDDED = False
    monkeypatch.setenv("SERVE_WORKERS", "3")
    assert serve.default_workers() == 3
    monkeypatch.delenv("SERVE_WORKERS")
    monkeypatch.setattr(serve.os, "cpu_count", lambda: 4)
    assert serve.default_workers() == 4


def test_zero_workers_is_an_error():
    with pytest.raises(CommandError, match="--workers must be at least 1"):
        call_command("serve", "--workers", "0")


def test_sockets_of_one_port_can_be_bound_once_per_process_and_a_taken_port_is_named():
    first = serve._listener("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = serve._listener("127.0.0.1", port)  # SO_REUSEPORT: the kernel spreads connections
    try:
        assert second.getsockname()[1] == port
        plain = socket.socket()
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{plain.getsockname()[1]}"):
            serve._listener("127.0.0.1", plain.getsockname()[1])
        plain.close()
    finally:
        first.close()
        second.close()
