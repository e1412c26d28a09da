"""The stored files of a backup: results (Django's default storage, local disk or S3) and the bar store.

Results are walked through the storage API, so the same code copies MEDIA_ROOT and a bucket. The bar
store (MARKET_DATA_ROOT) is copied without its derived parts (locks, memory-mapped snapshots: rebuilt
on the first read after a restore).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from core.backup.errors import BackupError

BAR_STORE_SKIPPED = ("locks", "snapshots")


def storage_names(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file name in ``storage`` under ``folder``, depth first."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from storage_names(storage, f"{folder}/{sub}" if folder else sub)


def storage_archive(*, storage: Storage, target: Path) -> int:
    """Write every file of ``storage`` into the tar ``target``; returns the number of files."""
    count = 0
    with tarfile.open(target, "w") as archive:
        for name in storage_names(storage):
            with storage.open(name, "rb") as handle:
                content = handle.read()
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
            count += 1
    return count


def storage_replace(*, storage: Storage, source: Path) -> tuple[int, int]:
    """Delete every file of ``storage``, then store each file of the tar ``source`` under its own name.

    Returns (files removed, files restored).
    """
    removed = 0
    for name in list(storage_names(storage)):
        storage.delete(name)
        removed += 1
    restored = 0
    with tarfile.open(source, "r") as archive:
        for member in archive:
            if not member.isfile():
                continue
            _check_member(member.name)
            content = archive.extractfile(member).read()
            saved = storage.save(member.name, ContentFile(content))
            if saved != member.name:
                raise BackupError(f"the storage renamed {member.name} to {saved} on restore")
            restored += 1
    return removed, restored


def bar_store_archive(*, root: Path, target: Path) -> int:
    """Tar the bar store at ``root`` (its source files and journal) into ``target``; returns file count."""
    count = 0
    with tarfile.open(target, "w") as archive:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if relative.parts[0] in BAR_STORE_SKIPPED or not path.is_file() or path.name.startswith("."):
                    continue
                archive.add(path, arcname=str(relative), recursive=False)
                count += 1
    return count


def bar_store_replace(*, root: Path, source: Path) -> tuple[int, int]:
    """Empty the bar store at ``root`` (the folder itself stays: it may be a mount) and unpack ``source``.

    Returns (files removed, files restored).
    """
    removed = 0
    if root.is_dir():
        for entry in os.scandir(root):
            if entry.is_dir(follow_symlinks=False):
                removed += sum(len(files) for _, _, files in os.walk(entry.path))
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
                removed += 1
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source, "r") as archive:
        members = [member for member in archive if member.isfile()]
        for member in members:
            _check_member(member.name)
        archive.extractall(root, members=members, filter="data")
    return removed, len(members)


def _check_member(name: str) -> None:
    if name.startswith("/") or ".." in Path(name).parts:
        raise BackupError(f"the archive holds an unsafe path: {name}")
