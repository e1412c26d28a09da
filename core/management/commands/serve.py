"""Serve HTTP and websockets with daphne; in embedded mode, with the worker and beat inside.

With external services (Redis channel layer, a Celery broker) several daphne processes share one
port, as the Channels deployment guide does with supervisord's ``fcgi-program`` and
``daphne --fd``: this command binds the sockets and keeps ``--workers`` daphne processes on them,
restarting one that dies. Embedded mode stays one process: its in-memory broker and channel layer
live there, so a second process would not see the first one's events.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

RESTART_LIMIT = 5  # deaths within RESTART_WINDOW seconds before giving up
RESTART_WINDOW = 60.0


def default_workers() -> int:
    if settings.CELERY_EMBEDDED:
        return 1
    return settings.SERVE_WORKERS or os.cpu_count() or 1


def browser_url(host: str, port: int) -> str:
    """The address to open in a browser on this machine for a server bound to ``host``:``port``."""
    if host in ("", "0.0.0.0", "::"):  # every interface: this machine answers on its loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


class Command(BaseCommand):
    help = (
        "Serve the platform with daphne (HTTP and websockets). In embedded mode "
        "(no CELERY_BROKER_URL/REDIS_URL) a Celery worker and beat run inside this process; "
        "otherwise --workers daphne processes (default: SERVE_WORKERS or one per CPU) share the socket."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-beat", action="store_true", help="do not run the embedded beat")
        parser.add_argument("--workers", type=int, default=None,
                            help="daphne processes (full stack only; default SERVE_WORKERS or one per CPU)")  # fmt: skip

    def handle(self, *args, host: str, port: int, no_beat: bool, workers: int | None, **options) -> None:
        workers = default_workers() if workers is None else workers
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if settings.CELERY_EMBEDDED and workers > 1:
            raise CommandError(
                "embedded mode serves from one process (its in-memory broker and channel layer live in it): "
                "set REDIS_URL to run several daphne workers"
            )
        from core.metrics.setup import multiproc_wipe

        multiproc_wipe()  # prometheus-client files of processes that are gone (a previous run)
        application = settings.ASGI_APPLICATION.replace(".application", ":application")
        feeds = None
        if settings.CELERY_EMBEDDED:
            from celery import current_app

            from core.embedded import start_embedded_celery

            start_embedded_celery(current_app._get_current_object(), with_beat=not no_beat)
            self.stdout.write("Celery worker and beat: embedded (in-memory broker)")
            from trading.realtime.feeds import embedded_feeds_start

            feeds = embedded_feeds_start()  # prices and execution notices, as threads (run_feeds in the full stack)
        else:
            self.stdout.write(f"Celery: external workers on {settings.CELERY_BROKER_URL.split('@')[-1]}")
        url = browser_url(host, port)
        self.stdout.write(f"Open {url} (stop with Ctrl+C); admin: {url}admin/")
        if workers == 1:
            from daphne.cli import CommandLineInterface

            self.stdout.write(f"Serving on http://{host}:{port}/ (daphne: HTTP and websockets)")
            self.stdout.flush()
            # no --proxy-headers: core.proxies believes forwarding headers from TRUSTED_PROXIES only
            try:
                CommandLineInterface().run(["-b", host, "-p", str(port), application])
            finally:
                if feeds is not None:
                    feeds.stop()
            return
        self.stdout.write(f"Serving on http://{host}:{port}/ ({workers} daphne processes: HTTP and websockets)")
        self.stdout.flush()
        supervise(host, port, workers, application)


def _die_with_parent() -> None:
    """In the child, before daphne starts: on Linux, a SIGTERM when this supervisor dies, even by
    SIGKILL, so no daphne process is left serving on its own."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise CommandError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    listener.listen(2048)
    return listener


def supervise(host: str, port: int, workers: int, application: str) -> None:
    """One listening socket per daphne process, all on the same port (SO_REUSEPORT: the kernel
    spreads new connections evenly, where one shared socket lets the busiest process take most);
    a process that dies is started again on its socket, which this process keeps open."""
    listeners = [_listener(host, port) for _ in range(workers)]

    def spawn(listener: socket.socket) -> subprocess.Popen:
        fd = listener.fileno()
        return subprocess.Popen([sys.executable, "-m", "daphne", "--fd", str(fd), application],
                                pass_fds=[fd], preexec_fn=_die_with_parent)  # fmt: skip

    children = [spawn(listener) for listener in listeners]
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deaths: list[float] = []
    try:
        while not stopping:
            time.sleep(0.5)
            for index, child in enumerate(children):
                if child.poll() is None or stopping:
                    continue
                now = time.monotonic()
                deaths = [t for t in deaths if now - t < RESTART_WINDOW] + [now]
                if len(deaths) > RESTART_LIMIT:
                    raise CommandError(f"daphne processes keep exiting (last exit code {child.returncode})")
                print(f"serve: daphne process {child.pid} exited ({child.returncode}); starting another",
                      file=sys.stderr, flush=True)  # fmt: skip
                from core.metrics.setup import process_dead

                process_dead(child.pid)  # its live gauges (websocket connections) stop counting
                children[index] = spawn(listeners[index])
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for listener in listeners:
            listener.close()
