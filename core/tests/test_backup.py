"""Backup sets: manifest, checksums, retention, confirmation and the commands' one-line errors.

Embedded pass only (the drill, test_backup_drill.py, covers PostgreSQL in the full-stack pass).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from core.backup import database, sets
from core.backup.errors import BackupError
from core.backup.targets import LocalTarget

pytestmark = [
    pytest.mark.django_db(transaction=True),  # a SQLite backup reads committed data
    pytest.mark.skipif("postgresql" in django_settings.DATABASES["default"]["ENGINE"],
                       reason="backup sets are the same on both databases: checked in the embedded pass"),
]


@pytest.fixture
def target(settings, tmp_path) -> LocalTarget:
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_S3_BUCKET = ""
    return LocalTarget(settings.BACKUP_DIR)


def test_the_manifest_names_version_migrations_and_checksums(target, settings):
    settings.APP_VERSION = "1.2.3"
    default_storage.save("backtests/1.bin", ContentFile(b"result"))
    manifest = sets.backup_create(target=target)
    assert manifest["app_version"] == "1.2.3" and manifest["database"]["vendor"] == "sqlite"
    assert "0001_initial" not in manifest["migrations"]["notifications"]  # only the leaves
    assert manifest["migrations"]["auth"] == ["0012_alter_user_first_name_max_length"]
    assert set(manifest["parts"]) == {"database.sqlite3", "media.tar", "marketdata.tar"}
    assert manifest["parts"]["media.tar"]["files"] == 1
    stored = json.loads((target.root / manifest["name"] / "manifest.json").read_text())
    assert stored == manifest and target.names() == [manifest["name"]]


def test_restore_refuses_a_set_whose_checksum_does_not_match(target, user):
    name = sets.backup_create(target=target)["name"]
    part = target.root / name / "media.tar"
    part.write_bytes(part.read_bytes()[:-1] + b"x")
    user.email = "changed@example.com"
    user.save()
    with pytest.raises(CommandError, match="media.tar does not match its checksum"):
        call_command("restore", "--from", name, "--yes")
    user.refresh_from_db()
    assert user.email == "changed@example.com"


def test_restore_asks_first_and_a_no_changes_nothing(target, monkeypatch, user):
    name = sets.backup_create(target=target)["name"]
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    called = []
    monkeypatch.setattr(sets, "backup_restore", lambda **kwargs: called.append(kwargs))
    with pytest.raises(CommandError, match="Restore cancelled"):
        call_command("restore", "--from", name)
    assert called == []


def test_retention_keeps_the_newest_and_never_the_only_one(target, capsys):
    names = [sets.backup_create(target=target, keep=10)["name"] for _ in range(3)]
    assert sets.backup_prune(target=target, keep=2) == names[:1]
    assert target.names() == names[1:]
    assert sets.backup_prune(target=target, keep=0) == names[1:2]
    assert target.names() == names[2:]
    call_command("backups")
    assert names[2] in capsys.readouterr().out


def test_a_missing_pg_dump_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PG_BIN_DIR", str(tmp_path))  # no pg_dump in it
    pg = {"ENGINE": "django.db.backends.postgresql", "NAME": "x", "HOST": "127.0.0.1", "PASSWORD": "s3cret"}
    with pytest.raises(BackupError, match=r"^pg_dump is not installed \(not found in PG_BIN_DIR\)"):
        database.database_dump(settings_dict=pg, alias="default", target=tmp_path / "x.dump")


def test_an_unreachable_bucket_is_one_clear_error(settings):
    settings.BACKUP_S3_BUCKET = "backups"
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY = "key", "secret"
    with pytest.raises(CommandError) as raised:
        call_command("backup")
    assert str(raised.value) == ("reaching the bucket: bucket backups at http://127.0.0.1:9 is unreachable "
                                 "(EndpointConnectionError)")
    assert "secret" not in str(raised.value)


def test_an_unknown_set_is_named(target):
    with pytest.raises(CommandError, match="no backup named nope in folder"):
        call_command("restore", "--from", "nope", "--yes")
    assert not Path(target.root / "nope").exists()


def test_the_scheduled_task_backs_up_and_keeps_the_newest(target, settings):
    from core.backup.tasks import backup_run

    settings.BACKUP_KEEP = 1
    first = backup_run()
    second = backup_run()
    assert first != second and target.names() == [second]
