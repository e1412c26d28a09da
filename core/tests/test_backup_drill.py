"""The restore drill: data of every kind, backed up, wiped, restored, and compared row by row and byte by byte.

Runs in both passes: SQLite (the sqlite3 backup API) in the embedded one, pg_dump/pg_restore in the full stack.
"""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from backtests.models import BacktestRun
from backtests import services as backtest_services
from backtests.tests import conftest as backtest_fixtures
from backtests.tests.test_result_files import BODY
from core.audit import Actor, audit_record
from core.backup import files
from core.models import AuditEntry
from trading.models import BrokerAccount
from trading.orders.models import Fill, Order, Position
from trading.paper.tests.conftest import open_paper_account

pytestmark = pytest.mark.django_db(transaction=True)
# the backtests' fixtures: a bar store with the sample bars, a media folder, no worker (runs executed here)
bar_store, media = backtest_fixtures.bar_store, backtest_fixtures.media
sample_market, no_worker = backtest_fixtures.sample_market, backtest_fixtures.no_worker
MODELS = (get_user_model(), BrokerAccount, Order, Fill, Position, AuditEntry, BacktestRun)


def _world(user, api_client, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/backtests/", BODY, format="json")
    assert response.status_code == 201, response.json()
    backtest_services.backtest_execute(run_id=response.json()["id"])
    account = open_paper_account(user)
    now = timezone.now()
    for n, (side, quantity) in enumerate([("buy", Decimal(10)), ("buy", Decimal(5)), ("sell", Decimal(3))]):
        order = Order.objects.create(owner=user, account=account, symbol="005930", side=side, quantity=quantity,
                                     price=Decimal(70_000 + n * 100), state="filled", closed_at=now)
        Fill.objects.create(order=order, account=account, fill_key=f"k{n}", symbol="005930", side=side,
                            quantity=quantity, price=order.price, value=quantity * order.price,
                            commission=Decimal("10.5"), cumulative_quantity=quantity, filled_at=now)
        audit_record(actor=Actor.of_user(user), action="order.place", owner=user, target=order)
    Position.objects.create(account=account, symbol="005930", quantity=Decimal(12), cost=Decimal(840_000))


def _everything() -> dict:
    rows = {model.__name__: list(model.objects.exclude(**({"action": "backup.restore"} if model is AuditEntry else {}))
                                 .order_by("pk").values()) for model in MODELS}
    stored = {name: default_storage.open(name, "rb").read() for name in files.storage_names(default_storage)}
    return {"rows": rows, "files": stored}


def _bars(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_a_restore_brings_back_every_order_fill_position_audit_row_and_result_file(
        settings, tmp_path, user, api_client, sample_market, media, no_worker, django_capture_on_commit_callbacks,
        capsys):
    settings.BACKUP_DIR = tmp_path / "backups"
    _world(user, api_client, django_capture_on_commit_callbacks)
    before, bars = _everything(), _bars(settings.MARKET_DATA_ROOT)
    run = BacktestRun.objects.get()
    assert run.result_file.name in before["files"] and len(bars) == 4
    assert [len(before["rows"][m]) for m in ("Order", "Fill", "Position")] == [3, 3, 1]
    assert len(before["rows"]["AuditEntry"]) >= 3

    call_command("backup")
    name = capsys.readouterr().out.split()[1]

    call_command("flush", interactive=False)
    shutil.rmtree(settings.MEDIA_ROOT)
    shutil.rmtree(settings.MARKET_DATA_ROOT)
    assert Order.objects.count() == AuditEntry.objects.count() == 0 and not _bars_exist(settings)

    call_command("restore", "--from", name, "--yes")
    out = capsys.readouterr().out
    assert f"Restored {name}" in out and "1 restored" in out  # the one result file

    after = _everything()
    for model, rows in before["rows"].items():
        assert after["rows"][model] == rows, model
    assert after["files"] == before["files"]
    assert _bars(settings.MARKET_DATA_ROOT) == bars
    assert AuditEntry.objects.get(action="backup.restore").object_id == name
    assert len(sample_market.read(["005930"]).date) > 100  # the restored store reads


def _bars_exist(settings) -> bool:
    return settings.MARKET_DATA_ROOT.exists() and any(settings.MARKET_DATA_ROOT.rglob("*.parquet"))
