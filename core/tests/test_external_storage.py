"""Results on S3-compatible storage (django-storages) against a local server (moto's server mode): a result
written here is read by two other processes, the results page and downloads read it from the bucket, and
backups go to and come back from a bucket. The bar store read from a bucket (pyarrow's S3 filesystem,
a local mirror): the same bars as the local store, in this process and two others, changes picked up.

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


BAR_READER = """
import json, sys
from marketdata.store import BarStore
store = BarStore(sys.argv[1])
bars = store.read(market="KOSPI")
print(json.dumps({"codes": bars.codes, "rows": len(bars), "last": str(bars.date[-1]), "close": float(bars.close.sum())}))
"""


def _upload(client, root: Path, bucket: str, prefix: str, only: tuple[str, ...] = ()) -> None:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] in ("bars", "journal") and (not only or str(relative) in only):
            client.upload_file(str(path), bucket, f"{prefix}/{relative}")


def test_the_bar_store_reads_from_a_bucket_in_several_processes(bucket, s3_server, sample_market, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("MARKET_DATA_S3_CACHE_DIR", str(tmp_path / "mirror"))
    _upload(bucket, sample_market.root, "results", "bars-root")
    host = s3_server.removeprefix("http://")
    url = f"s3://results/bars-root?endpoint_override={host}&scheme=http&region=us-east-1"
    from marketdata.store import BarStore
    from marketdata.store_s3 import BarStoreReadOnly, S3BarStore

    store = BarStore(url)
    assert isinstance(store, S3BarStore) and store.codes() == sample_market.codes()
    local, mirrored = sample_market.read(market="KOSPI"), store.read(market="KOSPI")  # snapshots, memory-mapped
    assert mirrored.codes == local.codes and (mirrored.close == local.close).all()
    assert (store.read_one("005930").date == sample_market.read_one("005930").date).all()

    readers = [subprocess.Popen([sys.executable, "-c", BAR_READER, url], cwd=ROOT, env=dict(os.environ),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    expected = {"codes": local.codes, "rows": len(local), "last": str(local.date[-1]), "close": float(local.close.sum())}
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err[-2000:]
        assert json.loads(out.strip().splitlines()[-1]) == expected

    sample_market.write("005930", "KOSPI", date=["2031-01-02"], open=[1.0], high=[1.0], low=[1.0], close=[1.0],
                        volume=[1.0])
    _upload(bucket, sample_market.root, "results", "bars-root", only=("bars/KOSPI/005930.parquet", "journal/KOSPI.log"))
    assert store.refresh() == 0  # not due yet
    assert store.refresh(force=True) == 2  # the bar file and the journal
    assert str(store.read(market="KOSPI").slice("005930").date[-1]) == "2031-01-02"
    with pytest.raises(BarStoreReadOnly):
        store.write("005930", "KOSPI", date=["2031-01-03"], open=[1], high=[1], low=[1], close=[1], volume=[1])
