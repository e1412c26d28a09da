"""Websocket paths other than the live channel are refused cleanly (close code 4404), never an HTTP 500."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from config.routing import websocket_urlpatterns
from core.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED

UNKNOWN_PATHS = ["/ws/user/3/", "/ws/", "/", "/ws/orders/", "/admin/", "/ws/user/../user/", "/%ff/"]
ORIGIN = [(b"origin", b"http://testserver"), (b"host", b"testserver")]


def _application():
    from config.asgi import application

    return application


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.asyncio
async def test_an_unknown_websocket_path_is_refused_with_not_found(path):
    communicator = WebsocketCommunicator(_application(), path, headers=ORIGIN)
    connected, code = await communicator.connect(timeout=3)
    assert connected is False
    assert code == CLOSE_NOT_FOUND
    await communicator.wait()


@pytest.mark.asyncio
async def test_an_unknown_path_is_refused_for_a_signed_in_user_too(user):
    websocket_application = URLRouter(websocket_urlpatterns)
    communicator = WebsocketCommunicator(websocket_application, "/ws/user/3/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect(timeout=3)
    assert (connected, code) == (False, CLOSE_NOT_FOUND)


@pytest.mark.asyncio
async def test_the_live_channel_still_routes():
    websocket_application = URLRouter(websocket_urlpatterns)
    communicator = WebsocketCommunicator(websocket_application, "/ws/user/")
    communicator.scope["user"] = AnonymousUser()
    assert (await communicator.connect(timeout=3))[0] is True
    assert await communicator.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _handshake(port: int, path: str) -> bytes:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n")  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request.encode())
        return connection.recv(4096).split(b"\r\n", 1)[0]


def test_a_real_daphne_refuses_an_unknown_websocket_path_without_a_server_error(tmp_path):
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DEBUG": "True", "ALLOWED_HOSTS": "127.0.0.1"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "config.asgi:application"], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "daphne did not start"
                time.sleep(0.2)
        status = _handshake(port, "/ws/user/3/")
        assert status.startswith(b"HTTP/1.1 403"), status  # refused before the handshake, not a 500
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=10)
    assert b"No route found" not in stderr and b"Traceback" not in stderr, stderr.decode(errors="replace")
