"""Results on S3-compatible storage (django-storages) against a local server (moto's server mode): a result
written here is read by two other processes, the results page and downloads read it from the bucket, and
backups go to and come back from a bucket.

Embedded pass only: the storage does not care which database holds the runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from moto.server import ThreadedMotoServer

from backtests import results, services
from backtests.models import BacktestRun
from backtests.tests import conftest as backtest_fixtures
from backtests.tests.test_result_files import BODY
from core.storage import results_storage

pytestmark = pytest.mark.skipif("postgresql" in django_settings.DATABASES["default"]["ENGINE"],
                                reason="storage only: checked once, in the embedded pass")
bar_store, sample_market = backtest_fixtures.bar_store, backtest_fixtures.sample_market
no_worker, fresh_result_cache = backtest_fixtures.no_worker, backtest_fixtures.fresh_result_cache
ROOT = Path(__file__).resolve().parents[2]
KEYS = {"access_key": "test-key", "secret_key": "test-secret"}
READER = """
import hashlib, json, sys
import django
from django.test.utils import override_settings
django.setup()
with override_settings(STORAGES={**__import__("django.conf").conf.settings.STORAGES, "default": json.loads(sys.argv[1])}):
    from django.core.files.storage import default_storage
    from backtests import results
    digest = hashlib.sha256(default_storage.open(sys.argv[2]).read()).hexdigest()
    print(json.dumps({"trades": len(results.load(sys.argv[2]).trades), "sha256": digest}))
"""


@pytest.fixture(scope="module")
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield "http://{}:{}".format(*server.get_host_and_port())
    server.stop()


@pytest.fixture
def bucket(s3_server, settings) -> str:
    """An empty 'results' bucket, Django's default storage in it (a 'backups' bucket too)."""
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="test-key",
                          aws_secret_access_key="test-secret")
    for name in ("results", "backups"):
        client.create_bucket(Bucket=name)
    settings.STORAGES = {**settings.STORAGES, "default": results_storage(bucket="results", endpoint_url=s3_server,
                                                                          region="us-east-1", **KEYS)}
    settings.AWS_S3_ENDPOINT_URL, settings.AWS_S3_REGION_NAME = s3_server, "us-east-1"
    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = KEYS["access_key"], KEYS["secret_key"]
    yield client
    for name in ("results", "backups"):
        for item in client.list_objects_v2(Bucket=name).get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)


@pytest.fixture
def finished(bucket, api_client, sample_market, no_worker, fresh_result_cache,
             django_capture_on_commit_callbacks) -> BacktestRun:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/backtests/", BODY, format="json")
    services.backtest_execute(run_id=response.json()["id"])
    return BacktestRun.objects.get(pk=response.json()["id"])


def test_a_result_written_here_is_in_the_bucket_and_two_other_processes_read_it(finished, bucket, settings):
    keys = [item["Key"] for item in bucket.list_objects_v2(Bucket="results")["Contents"]]
    assert keys == [f"media/{finished.result_file.name}"]
    assert not Path(settings.MEDIA_ROOT).exists()  # nothing on local disk
    stored = results.load(finished.result_file.name)
    digest = hashlib.sha256(default_storage.open(finished.result_file.name).read()).hexdigest()
    expected = {"trades": len(stored.trades), "sha256": digest}
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    readers = [subprocess.Popen([sys.executable, "-c", READER, json.dumps(settings.STORAGES["default"]),
                                 finished.result_file.name], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1]) == expected
    assert expected["trades"] > 0


def test_the_results_page_and_downloads_read_from_the_bucket(finished, client, user):
    results._CACHE.clear()  # read from the bucket, not from this process' memory
    client.force_login(user)
    page = client.get(f"/backtests/{finished.pk}/")
    assert page.status_code == 200
    trades = client.get(f"/backtests/{finished.pk}/download/trades.csv")
    assert trades.status_code == 200
    assert trades.content.decode().count("\n") == len(results.load(finished.result_file.name).trades) + 1


@pytest.mark.django_db(transaction=True)
def test_a_backup_goes_to_the_bucket_and_comes_back(finished, bucket, settings, capsys):
    settings.BACKUP_S3_BUCKET, settings.BACKUP_S3_PREFIX = "backups", "nightly"
    call_command("backup")
    name = capsys.readouterr().out.split()[1]
    keys = {item["Key"] for item in bucket.list_objects_v2(Bucket="backups")["Contents"]}
    assert keys == {f"nightly/{name}/{part}" for part in
                    ("manifest.json", "database.sqlite3", "media.tar", "marketdata.tar")}
    result_name = finished.result_file.name
    content = default_storage.open(result_name).read()
    default_storage.delete(result_name)
    BacktestRun.objects.all().delete()

    call_command("restore", "--from", name, "--yes")
    assert "results storage: 0 files removed, 1 restored" in capsys.readouterr().out
    assert default_storage.open(result_name).read() == content
    assert BacktestRun.objects.get().result_file.name == result_name
