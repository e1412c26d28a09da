"""Sentry by DSN only: an exception in a view that mentions secrets reaches a (fake, local) Sentry
server scrubbed, tagged with the request id; with SENTRY_DSN unset nothing is sent at all."""

from __future__ import annotations

import gzip
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.test import Client
from django.urls import path

from core.logging.sentry import sentry_init

pytestmark = pytest.mark.django_db
APP_SECRET = "Zq8" + "secretSECRET0123456789" * 4
TOKEN = "tok3N-" + "AbCdEf0123456789" * 4
ACCOUNT = "50123456-01"


def boom(request):
    app_secret = APP_SECRET  # a local variable: Sentry sends the frame's variables
    logging.getLogger("trading.brokers").info("calling KIS for %s with appsecret=%s", ACCOUNT, app_secret)  # a crumb
    raise RuntimeError(f"KIS refused appsecret={app_secret} with Bearer {TOKEN} for account {ACCOUNT}")


urlpatterns = [path("boom/", boom)]


class FakeSentry:
    """Records the body of every envelope POSTed to it (gzip undone)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.bodies.append(gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://key@127.0.0.1:{self.server.server_address[1]}/1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_sentry(settings):
    if not settings.CELERY_EMBEDDED:
        pytest.skip("one pass is enough: nothing here depends on the database or Redis")
    settings.ROOT_URLCONF = __name__
    fake = FakeSentry()
    yield fake
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)  # no client for the tests after this one
    fake.close()


def test_an_error_in_a_view_arrives_scrubbed_and_tagged_with_its_request(fake_sentry, settings):
    settings.SENTRY_DSN, settings.SENTRY_ENVIRONMENT = fake_sentry.dsn, "test"
    assert sentry_init() is True and not sentry_sdk.get_client().options["send_default_pii"]
    response = Client(raise_request_exception=False).get(
        f"/boom/?appkey={APP_SECRET}", headers={"Authorization": f"Bearer {TOKEN}", "X-Request-ID": "req-sentry-0001"})
    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)
    sent = b"\n".join(fake_sentry.bodies).decode()
    assert "RuntimeError" in sent and "KIS refused appsecret=***" in sent and "req-sentry-0001" in sent
    assert "calling KIS for ******56-01 with appsecret=***" in sent  # the breadcrumb
    assert '"environment":"test"' in sent.replace(" ", "")
    assert APP_SECRET not in sent and TOKEN not in sent and ACCOUNT not in sent


def test_nothing_is_sent_without_a_dsn(fake_sentry, settings):
    settings.SENTRY_DSN = ""
    assert sentry_init() is False and not sentry_sdk.get_client().is_active()
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    sentry_sdk.flush(timeout=2)
    assert fake_sentry.bodies == []
