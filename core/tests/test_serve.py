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
    settings.SERVE_WORKERS = 3
    assert serve.default_workers() == 3
    settings.SERVE_WORKERS = 0
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


def _children(pid: int) -> list[int]:
    from pathlib import Path

    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(child) for child in text]
    return out


def _wait(predicate, seconds: float = 60.0):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def _health(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.skipif(not serve.sys.platform.startswith("linux"), reason="reads /proc")
def test_the_supervisor_restarts_a_dead_daphne_and_takes_its_processes_along_when_it_dies(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    port = serve._listener("127.0.0.1", 0)
    number = port.getsockname()[1]
    port.close()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATA_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0", "DEBUG": "False",
           "SITE_URL": f"http://127.0.0.1:{number}"}  # a full-stack configuration; /health needs no Redis
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=root, env=env, check=True)
    parent = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(number), "--workers", "2"],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = _wait(lambda: len(_children(parent.pid)) == 2 and _children(parent.pid))
        _wait(lambda: _health(number))
        os.kill(first[0], signal.SIGKILL)
        _wait(lambda: len(set(_children(parent.pid)) - set(first)) == 1)  # a new one in its place
        for _ in range(10):  # both processes answer: whichever socket the kernel picks
            _wait(lambda: _health(number))
        now = _children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        _wait(lambda: not any(Path(f"/proc/{pid}").exists() and "zombie" not in
                              Path(f"/proc/{pid}/status").read_text().lower() for pid in now), seconds=20)  # fmt: skip
        assert not _health(number)
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize(("args", "url"), [
    (["--port", "8123"], "http://127.0.0.1:8123/"),
    (["--host", "0.0.0.0", "--port", "9000"], "http://127.0.0.1:9000/"),  # every interface: this machine's
    (["--host", "::1", "--port", "9001"], "http://[::1]:9001/"),
])
def test_it_says_where_to_open_the_site_with_the_port_it_was_given(settings, monkeypatch, capsys, args, url):
    from daphne.cli import CommandLineInterface

    import core.embedded

    settings.CELERY_EMBEDDED = True
    monkeypatch.setattr(core.embedded, "start_embedded_celery", lambda app, **kwargs: None)
    served = []
    monkeypatch.setattr(CommandLineInterface, "run", lambda self, argv: served.append(argv))
    call_command("serve", *args)
    out = capsys.readouterr().out
    assert f"Open {url} (stop with Ctrl+C)" in out
    assert f"admin: {url}admin/" in out
    assert served and served[0][served[0].index("-p") + 1] == args[-1]


def test_the_dev_script_leaves_the_address_to_serve():
    """`./dev run --port 9000` used to announce port 8000: the script printed its own fixed address."""
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "dev").read_text()
    assert "127.0.0.1:8000" not in script
