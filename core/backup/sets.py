"""Backup sets: create, list, prune, verify and restore (the services behind the commands and the task).

A set holds the database (``database.dump`` from pg_dump -Fc, or ``database.sqlite3``), the results
(``media.tar``: every file of Django's default storage) and the bar store (``marketdata.tar``), with a
``manifest.json``: created_at, app version, the migration state per app, and each part's size and sha256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections

from core.audit import Actor, audit_record
from core.backup import database, files
from core.backup.errors import BackupError
from core.backup.targets import MANIFEST, LocalTarget, S3Target, target_from_settings

logger = logging.getLogger(__name__)

FORMAT = 1
MEDIA_PART = "media.tar"
BARS_PART = "marketdata.tar"
Target = LocalTarget | S3Target


@dataclass
class Restored:
    """What a restore replaced, in sentences for the operator."""

    name: str
    replaced: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bar_root() -> Path | None:
    """The local bar store, or None when it lives in a bucket (kept there, not copied)."""
    root = str(getattr(settings, "MARKET_DATA_ROOT", ""))
    return None if not root or root.startswith("s3:") else Path(root)


def _new_name(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S.%fZ")


def backup_create(*, target: Target | None = None, alias: str = "default", keep: int | None = None) -> dict[str, Any]:
    """Back up the database and the stored files into a new set; then prune to ``keep`` sets.

    Returns the manifest. Raises BackupError (nothing is left behind in the target on failure).
    """
    target = target or target_from_settings()
    target.check()  # an unreachable bucket fails before minutes of dumping
    settings_dict = connections[alias].settings_dict
    vendor = database.vendor_of(settings_dict)
    now = dt.datetime.now(dt.UTC)
    name = _new_name(now)
    folder = target.staging(name)
    try:
        db_part = database.part_name(vendor)
        database.database_dump(settings_dict=settings_dict, alias=alias, target=folder / db_part)
        media_files = files.storage_archive(storage=default_storage, target=folder / MEDIA_PART)
        parts_files = {db_part: None, MEDIA_PART: media_files}
        root = _bar_root()
        if root is not None:
            parts_files[BARS_PART] = files.bar_store_archive(root=root, target=folder / BARS_PART)
        manifest = {
            "format": FORMAT,
            "name": name,
            "created_at": now.isoformat(),
            "app_version": getattr(settings, "APP_VERSION", "dev"),
            "database": {"vendor": vendor, "name": str(settings_dict["NAME"])},
            "migrations": database.migration_state(alias),
            "bar_store": "included" if root is not None else f"not copied: kept in {settings.MARKET_DATA_ROOT}",
            "parts": {
                part: {"size": (folder / part).stat().st_size, "sha256": _sha256(folder / part),
                       **({"files": count} if count is not None else {})}
                for part, count in parts_files.items()
            },
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    target.store(name, folder)
    logger.info("backup %s written to %s", name, target)
    keep = keep if keep is not None else getattr(settings, "BACKUP_KEEP", 14)
    backup_prune(target=target, keep=keep)
    return manifest


def backup_list(*, target: Target | None = None) -> list[dict[str, Any]]:
    """The manifests of every complete set, oldest first."""
    target = target or target_from_settings()
    return [target.manifest(name) for name in target.names()]


def backup_prune(*, target: Target, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` sets (never the only one: keep is at least 1). Returns the deleted."""
    names = target.names()
    doomed = names[: max(len(names) - max(keep, 1), 0)]
    for name in doomed:
        target.delete(name)
        logger.info("backup %s deleted (keeping the newest %s)", name, keep)
    return doomed


def backup_verify(*, folder: Path) -> dict[str, Any]:
    """The manifest of the set in ``folder`` once every part matches its size and sha256; else BackupError."""
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup {manifest.get('name')} has format {manifest.get('format')}, expected {FORMAT}")
    for part, expected in manifest["parts"].items():
        path = folder / part
        if not path.is_file():
            raise BackupError(f"backup {manifest['name']} is missing its part {part}")
        if path.stat().st_size != expected["size"] or _sha256(path) != expected["sha256"]:
            raise BackupError(f"backup {manifest['name']}: {part} does not match its checksum (corrupt or altered); "
                              f"nothing was restored")
    return manifest


def backup_restore(*, name: str, target: Target | None = None, alias: str | None = "default",
                   database_settings: dict[str, Any] | None = None, actor: Actor | None = None) -> Restored:
    """Replace the database, the results and the bar store with the set ``name``.

    ``database_settings`` (a Django DATABASES entry) restores into another database than ``alias``'s;
    the files are then left alone. Every checksum is verified before anything is touched. A restore of
    the platform's own database is audited in it afterwards (``backup.restore``). Raises BackupError.
    """
    target = target or target_from_settings()
    with target.opened(name) as folder:
        manifest = backup_verify(folder=folder)
        settings_dict = database_settings or connections[alias].settings_dict
        vendor = database.vendor_of(settings_dict)
        if vendor != manifest["database"]["vendor"]:
            raise BackupError(f"backup {name} holds a {manifest['database']['vendor']} database; "
                              f"it cannot be restored into {database.describe(settings_dict)}")
        done = Restored(name=name)
        database.database_restore(settings_dict=settings_dict, alias=None if database_settings else alias,
                                  source=folder / database.part_name(vendor))
        done.replaced.append(f"{database.describe(settings_dict)} (now as of {manifest['created_at']})")
        if database_settings:
            return done
        removed, restored = files.storage_replace(storage=default_storage, source=folder / MEDIA_PART)
        done.replaced.append(f"results storage: {removed} files removed, {restored} restored")
        root = _bar_root()
        if BARS_PART in manifest["parts"] and root is not None:
            removed, restored = files.bar_store_replace(root=root, source=folder / BARS_PART)
            done.replaced.append(f"bar store {root}: {removed} files removed, {restored} restored")
        else:
            done.replaced.append("bar store: left as it is (" + manifest.get("bar_store", "not in the backup") + ")")
    audit_record(actor=actor or Actor.system("manage.py restore", door="command"), action="backup.restore",
                 owner=None, object_type="backup", object_id=name, reason="; ".join(done.replaced)[:500],
                 after={"created_at": manifest["created_at"], "app_version": manifest["app_version"]})
    logger.info("backup %s restored: %s", name, "; ".join(done.replaced))
    return done
