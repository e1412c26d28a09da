"""The monitoring stack's files, statically (promtool, amtool, the compose files), and the alert
rules evaluated by promtool on series made from the platform's REAL /metrics.

promtool and amtool come from Debian's ``prometheus`` and ``prometheus-alertmanager`` packages,
``docker-compose config`` and the compose-spec schema from Debian's ``docker-compose`` (.ci/run
installs them); each check skips with the reason where its tool is missing.

A real scrape becomes promtool input like this: gauges keep their value; a counter (or histogram
bucket) grows each minute by what it grew between two scrapes around the test's activity, i.e. the
test's traffic repeated every minute. Ratios (error rate, p95) are then those of the real traffic.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from celery import shared_task
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from core import clock
from core.tests import metrics_helpers
from core.tests.metrics_helpers import TOKEN, samples
from trading.orders.models import Order, Reconciliation
from trading.orders.tests import conftest as orders
from trading.orders.tests.conftest import new_order

ROOT = Path(__file__).resolve().parents[2]
OPS = ROOT / "ops"
metered = metrics_helpers.metered  # fixtures
morning, paper_account, samsung, store, write_bar = (orders.morning, orders.paper_account, orders.samsung, orders.store,
                                                    orders.write_bar)
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: apt-get install prometheus")
static = pytest.mark.skipif("postgresql" in django_settings.DATABASES["default"]["ENGINE"],
                            reason="static checks of files: they run in the embedded pass")


# -- static --------------------------------------------------------------------------------------
def prometheus_dir(tmp_path: Path) -> Path:
    """ops/prometheus copied with its token file pointing at a file that exists (promtool checks it)."""
    target = tmp_path / "prometheus"
    shutil.copytree(OPS / "prometheus", target)
    (tmp_path / "token").write_text("t")
    config = target / "prometheus.yml"
    config.write_text(config.read_text().replace("/prometheus/.metrics_token", str(tmp_path / "token")))
    return target


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


@static
@needs_promtool
def test_prometheus_config_and_rules_pass_promtool_and_their_unit_tests(tmp_path):
    folder = prometheus_dir(tmp_path)
    for args in (("check", "config", "prometheus.yml"), ("check", "rules", "alerts.yml"),
                 ("test", "rules", "alerts.test.yml")):
        done = promtool(*args, cwd=folder)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


@static
def test_alertmanager_sends_every_alert_to_the_platforms_alert_view(tmp_path):
    config = yaml.safe_load((OPS / "alertmanager" / "alertmanager.yml").read_text())
    [receiver] = config["receivers"]
    [hook] = receiver["webhook_configs"]
    assert config["route"]["receiver"] == receiver["name"] and hook["send_resolved"] is True
    assert hook["url"] == "http://web:8000/ops/alerts/"
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    if shutil.which("amtool") is None:
        pytest.skip("amtool missing (apt-get install prometheus-alertmanager): the structure was checked")
    copy = tmp_path / "alertmanager.yml"
    (tmp_path / "token").write_text("t")
    copy.write_text((OPS / "alertmanager" / "alertmanager.yml").read_text()
                    .replace("/alertmanager/.token", str(tmp_path / "token")))
    done = subprocess.run(["amtool", "check-config", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _compose(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


@static
def test_the_monitoring_compose_file_rotates_logs_heals_and_validates(tmp_path):
    base, extra = _compose("docker-compose.yml"), _compose("ops/docker-compose.monitoring.yml")
    services = extra["services"]
    assert set(base["services"]) <= set(services), "every service of the base file gets log rotation here"
    assert {"prometheus", "alertmanager", "grafana", "node-exporter", "cadvisor", "autoheal"} <= set(services)
    for name, service in services.items():
        logging = service["logging"]
        assert logging["driver"] == "json-file" and logging["options"]["max-size"] and logging["options"]["max-file"]
        image = service.get("image") or base["services"].get(name, {}).get("image", "")
        assert image == "platform:latest" or re.search(r":v?\d", image), f"{name}: pin the image ({image})"
        if service.get("labels", {}).get("autoheal") == "true":
            assert service.get("healthcheck") or base["services"].get(name, {}).get("healthcheck"), name
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["autoheal"]["volumes"]
    assert services["autoheal"]["environment"]["AUTOHEAL_CONTAINER_LABEL"] == "autoheal"
    for name in ("worker", "beat"):
        assert services[name]["environment"]["METRICS_PORT"] == "9808"
    for service in services.values():  # every file the stack mounts from the repository exists
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (ROOT / volume.split(":")[0]).exists(), volume

    schema_file = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
    if not schema_file.exists():
        pytest.skip("compose-spec schema missing (apt-get install docker-compose): the structure was checked")
    import jsonschema

    schema = json.loads(schema_file.read_text())
    for document in (base, extra):
        jsonschema.Draft7Validator(schema).validate(document)
    # the compose tool itself (Debian's docker-compose needs no engine for `config`)
    project = tmp_path / "project"
    (project / "ops").mkdir(parents=True)
    shutil.copy(ROOT / "docker-compose.yml", project)
    shutil.copy(OPS / "docker-compose.monitoring.yml", project / "ops")
    (project / ".env").write_text("POSTGRES_PASSWORD=x\nMETRICS_TOKEN=m\nALERTMANAGER_TOKEN=a\nGRAFANA_ADMIN_PASSWORD=g\n")
    done = subprocess.run(["docker-compose", "-f", "docker-compose.yml", "-f", "ops/docker-compose.monitoring.yml",
                           "config", "-q"], cwd=project, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@static
def test_grafana_is_provisioned_with_the_committed_dashboard():
    source = yaml.safe_load((OPS / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    provider = yaml.safe_load((OPS / "grafana/provisioning/dashboards/quantk.yml").read_text())["providers"][0]
    dashboard = json.loads((OPS / "grafana/dashboards/quantk-platform.json").read_text())
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards" and source["url"] == "http://prometheus:9090"
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for wanted in ("quantk_http_requests_total", "quantk_http_request_duration_seconds_bucket", "quantk_orders",
                   "quantk_celery_queue_length", "quantk_orders_unknown", "quantk_broker_requests_total",
                   "quantk_websocket_connections"):
        assert wanted in exprs
    assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {source["uid"]}


# -- against a real scrape -----------------------------------------------------------------------
def _selector(name: str, labels: dict) -> str:
    inner = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def promtool_series(before: str, after: str) -> list[dict]:
    old = samples(before)
    series = [{"series": f'up{{job="{job}"}}', "values": "1x40"} for job in ("web", "worker", "beat")]
    for family in text_string_to_metric_families(after):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if family.type in ("counter", "histogram"):
                grew = sample.value - old.get((sample.name, frozenset(sample.labels.items())), 0.0)
                values = f"0+{grew:.6f}x40"
            elif family.type == "gauge":
                values = f"{sample.value:.6f}x40"
            else:
                continue
            series.append({"series": _selector(sample.name, sample.labels), "values": values})
    return series


def firing(tmp_path: Path, series: list[dict], expected: dict[str, int]) -> subprocess.CompletedProcess:
    """promtool test rules: at 20 minutes, exactly ``expected`` {alert: firing series} fire. The p95
    latency alert is left out: it depends on this machine's speed (no timed tests)."""
    test = {"rule_files": [str(OPS / "prometheus" / "alerts.yml")], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [{
                "expr": 'count by (alertname) (ALERTS{alertstate="firing", alertname!="HighLatencyP95"})',
                "eval_time": "20m",
                "exp_samples": [{"labels": f'{{alertname="{name}"}}', "value": count}
                                for name, count in sorted(expected.items())]}]}]}
    path = tmp_path / "real.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return promtool("test", "rules", str(path), cwd=tmp_path)


def _scrape(client: Client) -> str:
    return client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()


@needs_promtool
@pytest.mark.django_db
def test_alerts_on_a_real_scrape_unknown_order_fires_error_rate_only_with_errors(tmp_path, metered, user,
                                                                                  paper_account):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    new_order(paper_account)  # a new order: no alert
    lost = new_order(paper_account)
    Order.objects.filter(pk=lost.pk).update(state="unknown", submitted_at=clock.now() - dt.timedelta(minutes=11),
                                            unknown_since=clock.now() - dt.timedelta(minutes=10))
    Reconciliation.objects.create(account=paper_account, finished_at=clock.now())  # reconciled just now
    pages = ("/health", "/dashboard/", "/trading/orders/", "/health")
    for path in pages:  # warm: templates compiled, caches filled
        client.get(path)
    before = _scrape(client)
    for path in pages:
        assert client.get(path).status_code == 200, path
    after = _scrape(client)

    done = firing(tmp_path, promtool_series(before, after), {"UnknownOrderStale": 1})
    assert done.returncode == 0, done.stdout + done.stderr

    assert client.get("/metrics-tests/boom").status_code == 500  # one request in six fails: > 5 %
    failed = _scrape(client)
    done = firing(tmp_path, promtool_series(before, failed), {"UnknownOrderStale": 1, "HighErrorRate": 1})
    assert done.returncode == 0, done.stdout + done.stderr


@shared_task(name="core.tests.metrics_fail")
def metrics_fail() -> None:
    raise ValueError("a failing task for the metrics tests")


@pytest.mark.django_db
def test_every_series_the_alerts_and_the_dashboard_use_is_in_a_real_scrape(metered):
    from backtests.tasks import fail_stale_runs, run_backtest

    client = Client(raise_request_exception=False)
    assert client.get("/health").status_code == 200 and client.get("/metrics-tests/boom").status_code == 500
    fail_stale_runs.apply()
    run_backtest.apply(kwargs={"run_id": 0})
    metrics_fail.apply()
    scraped = {name for name, _labels in samples(_scrape(client))}
    used = set(re.findall(r"\bquantk_[a-z0-9_]+", (OPS / "prometheus" / "alerts.yml").read_text()
                          + (OPS / "grafana/dashboards/quantk-platform.json").read_text()))
    assert len(used) >= 12 and used <= scraped, sorted(used - scraped)
