"""/metrics: its token, the request, order and broker series after an order on the fake KIS, and
prometheus-client's multi-process mode adding up several processes."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from core import clock
from core.metrics.exposition import scrape
from core.tests import metrics_helpers
from core.tests.metrics_helpers import TOKEN, samples, scrape_text, value
from trading.orders import services
from trading.orders.models import Order
from trading.orders.tests import conftest as orders
from trading.orders.tests.conftest import ORDER_PATH, new_order
from trading.orders.tests.test_submit import RATE_LIMITED

metered = metrics_helpers.metered  # fixtures
kis, morning, no_jobs = orders.kis, orders.morning, orders.no_jobs

ROOT = Path(__file__).resolve().parents[2]
one_pass = pytest.mark.skipif("postgresql" in django_settings.DATABASES["default"]["ENGINE"],
                              reason="no database, cache or broker: it runs in the embedded pass")


@pytest.mark.django_db
def test_metrics_want_the_token_and_are_never_public_without_one(client, metered):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"] and b"quantk_orders{" in response.content

    metered.METRICS_TOKEN = ""
    metered.PRODUCTION = True
    assert client.get("/metrics").status_code == 404
    metered.PRODUCTION = False  # development: loopback clients only
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_requests_are_counted_by_view_method_and_status(client, metered):
    before = samples(scrape_text(client))
    client.get("/health")
    client.get("/health")
    client.get("/no-such-page/")
    after = samples(scrape_text(client))
    ok = {"view": "health", "method": "GET", "status": "200"}
    assert value(after, "quantk_http_requests_total", **ok) - value(before, "quantk_http_requests_total", **ok) == 2
    missing = {"view": "<unresolved>", "method": "GET", "status": "404"}
    assert value(after, "quantk_http_requests_total", **missing) - value(before, "quantk_http_requests_total",
                                                                         **missing) == 1
    count = "quantk_http_request_duration_seconds_count"
    assert value(after, count, view="health") - value(before, count, view="health") == 2


@pytest.mark.django_db
def test_an_order_on_the_fake_kis_shows_in_the_order_and_broker_series(client, metered, kis, no_jobs):
    before = samples(scrape_text(client))
    kis.fake.fail_next(ORDER_PATH, RATE_LIMITED)  # refused once for the rate, then taken
    accepted = services.order_submit(order_id=new_order(kis.account).pk)
    lost = new_order(kis.account)
    Order.objects.filter(pk=lost.pk).update(state="unknown", unknown_since=clock.now() - dt.timedelta(minutes=7))
    after = samples(scrape_text(client))

    assert accepted.state == "accepted"
    assert value(after, "quantk_orders", state="accepted") == 1 and value(after, "quantk_orders", state="unknown") == 1
    assert value(after, "quantk_orders_unknown") == 1
    assert 420 <= value(after, "quantk_orders_unknown_oldest_age_seconds") < 480

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("quantk_broker_requests_total", broker="kis", outcome="ok") == 1  # the order (issuance: its own series)
    assert grew("quantk_broker_requests_total", broker="kis", outcome="rate_limited") == 1
    assert grew("quantk_broker_token_issuances_total", broker="kis") == 1
    assert grew("quantk_order_ack_latency_seconds_count") == 1
    assert value(after, "quantk_reconciliation_lag_seconds", broker="kis") > 0  # open orders, never reconciled


@pytest.mark.asyncio
async def test_websocket_connections_are_a_live_gauge():
    from config.routing import websocket_urlpatterns
    from channels.routing import URLRouter

    def open_now() -> float:
        return value(samples(scrape(with_ledger=False)[0].decode()), "quantk_websocket_connections", consumer="user")

    start = open_now()
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/user/")
    communicator.scope["user"] = SimpleNamespace(is_authenticated=True, pk=987654)
    assert (await communicator.connect())[0]
    assert open_now() == start + 1
    await communicator.disconnect()
    assert open_now() == start


CHILD = """
from core.metrics import series
series.broker_request("kis", "ok")
series.broker_request("kis", "ok")
series.websocket_opened("user")
"""


@one_pass
def test_the_counters_of_two_processes_add_up(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process and kind
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    scraped = samples(generate_latest(registry).decode())
    assert value(scraped, "quantk_broker_requests_total", broker="kis", outcome="ok") == 4
    # websocket gauges count live processes only (livesum): both children have exited unmarked here
    assert value(scraped, "quantk_websocket_connections", consumer="user") == 2


@pytest.mark.django_db
def test_alertmanager_alerts_reach_the_operators_channel_with_their_token(client, metered, monkeypatch):
    from notifications import ops

    told = []
    monkeypatch.setattr(ops, "ops_alert", lambda **kwargs: told.append(kwargs) or True)
    payload = {"status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "UnknownOrderStale", "severity": "critical"},
         "annotations": {"summary": "An order's fate is unknown", "description": "10m since"},
         "startsAt": "2026-03-04T01:00:00Z", "fingerprint": "abc"},
        {"status": "resolved", "labels": {"alertname": "QueueBacklog", "queue": "celery"}, "fingerprint": "def"}]}

    def post(body, token=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return client.post("/ops/alerts/", body, content_type="application/json", **headers)

    metered.ALERTMANAGER_TOKEN = ""
    assert post(payload, "any").status_code == 404  # no token configured: the view does not exist
    metered.ALERTMANAGER_TOKEN = "am-token"
    assert post(payload).status_code == 401 and post(payload, "wrong").status_code == 401
    assert post("not json", "am-token").status_code == 400 and post({"alerts": 3}, "am-token").status_code == 400
    assert told == []
    response = post(payload, "am-token")
    assert response.status_code == 200 and response.json() == {"received": 2, "sent": 2}
    assert [t["title"] for t in told] == ["[FIRING] UnknownOrderStale (critical): An order's fate is unknown",
                                          "[RESOLVED] QueueBacklog"]
    assert "10m since" in told[0]["body"] and "queue=celery" in told[1]["body"]
    assert told[0]["key"] != told[1]["key"]


@one_pass
def test_a_workers_metrics_port_wants_the_token():
    from core.metrics.worker_http import metrics_app

    def call(app, path="/metrics", auth=""):
        answer = {}
        body = b"".join(app({"PATH_INFO": path, "HTTP_AUTHORIZATION": auth},
                            lambda status, headers: answer.update(status=status)))
        return answer["status"], body

    app = metrics_app("w-token")
    assert call(app)[0].startswith("401") and call(app, auth="Bearer nope")[0].startswith("401")
    assert call(app, path="/other", auth="Bearer w-token")[0].startswith("404")
    status, body = call(app, auth="Bearer w-token")
    assert status.startswith("200") and b"quantk_broker_requests_total" in body and b"quantk_orders{" not in body
    assert call(metrics_app(""), auth="Bearer ")[0].startswith("401")  # no token configured: always refused


@one_pass
def test_a_supervisors_wipe_keeps_running_processes_samples(tmp_path, monkeypatch):
    from core.metrics import setup

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    mine = tmp_path / f"counter_{os.getpid()}.db"
    mine.write_bytes(b"")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = tmp_path / f"gauge_livesum_{dead.stdout.strip()}.db"
    gone.write_bytes(b"")
    assert setup.multiproc_wipe() == 1 and mine.exists() and not gone.exists()
