"""The bar store read from S3-compatible storage: ``MARKET_DATA_ROOT=s3://bucket/prefix`` (pyarrow's S3
filesystem; an endpoint other than AWS in the URI: ``?endpoint_override=minio:9000&scheme=http&region=...``;
keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).

Pure core (no Django imports). The bucket holds the layout of a local store (``bars/``, ``journal/``;
no snapshots, no locks). Reads go through a local mirror: the bucket's changed files are downloaded
(checked at most every ``MARKET_DATA_S3_REFRESH_SECONDS`` per process, 60 by default), then the
ordinary BarStore reads the mirror, so memory-mapped snapshots, their speed and their invalidation by
the journal's size stay exactly as on a local disk. Processes of one machine share the mirror (one
refresh at a time under a flock; every file lands by an atomic rename; bars before the journal).

Writes are refused: import into a local store, then upload it
(``aws s3 sync var/marketdata/ s3://bucket/prefix/ --exclude 'locks/*' --exclude 'snapshots/*'``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from marketdata.store import BarStore

_INDEX = ".s3-index.json"
_REFRESHED: dict[str, float] = {}  # url -> time.monotonic() of this process' last refresh
_REFRESHED_LOCK = threading.Lock()


class BarStoreReadOnly(RuntimeError):
    """A write to a bar store that lives in a bucket."""


class BarStoreUnavailable(OSError):
    """The bucket could not be read (unreachable, refused, missing)."""


def refresh_seconds() -> float:
    return float(os.environ.get("MARKET_DATA_S3_REFRESH_SECONDS", "60"))


class S3BarStore(BarStore):
    """A read-only BarStore over ``url``, mirrored into ``cache_dir`` (default: a folder per URL in the temp dir)."""

    def __init__(self, url: str, *, fsync: bool = True, cache_dir: str | Path | None = None) -> None:
        self.url = url
        try:
            self._fs, remote = pafs.FileSystem.from_uri(url)
        except (OSError, ValueError) as error:
            raise BarStoreUnavailable(f"bar store {url.split('?')[0]}: {error}") from None
        self._remote = remote.rstrip("/")
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        cache = cache_dir or os.environ.get("MARKET_DATA_S3_CACHE_DIR") or Path(tempfile.gettempdir()) / "quantk-bars"
        super().__init__(Path(cache) / digest, fsync=False)
        self.refresh()

    def refresh(self, *, force: bool = False) -> int:
        """Download what changed in the bucket (when due or ``force``); returns the number of files changed."""
        with _REFRESHED_LOCK:
            last = _REFRESHED.get(self.url)
        if not force and last is not None and time.monotonic() - last < refresh_seconds():
            return 0
        with self._lock("s3-refresh"):
            changed = self._mirror()
        with _REFRESHED_LOCK:
            _REFRESHED[self.url] = time.monotonic()
        return changed

    def _listing(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for folder in ("bars", "journal"):
            selector = pafs.FileSelector(f"{self._remote}/{folder}", recursive=True, allow_not_found=True)
            try:
                infos = self._fs.get_file_info(selector)
            except OSError as error:
                raise BarStoreUnavailable(f"bar store {self.url.split('?')[0]}: {error}") from None
            for info in infos:
                if info.type == pafs.FileType.File:
                    found[info.path[len(self._remote) + 1:]] = [info.size, info.mtime_ns or 0]
        return found

    def _mirror(self) -> int:
        remote = self._listing()
        index_path = self.root / _INDEX
        try:
            known: dict[str, Any] = json.loads(index_path.read_text())
        except (FileNotFoundError, ValueError):
            known = {}
        changed_markets: set[str] = set()
        changed = 0
        for relative in sorted(remote):  # bars/ before journal/: a new generation never precedes its bars
            local = self.root / relative
            if known.get(relative) == remote[relative] and local.exists():
                continue
            with self._fs.open_input_stream(f"{self._remote}/{relative}") as source:
                content = source.read()
            self._atomic_write(local, lambda handle, content=content: handle.write(content))
            changed_markets.add(Path(relative).parts[1].removesuffix(".log"))
            changed += 1
        for relative in set(known) - set(remote):
            (self.root / relative).unlink(missing_ok=True)
            changed_markets.add(Path(relative).parts[1].removesuffix(".log"))
            changed += 1
        for market in changed_markets:  # rebuilt from the new files even if the journal did not grow
            self._snapshot_path(market).unlink(missing_ok=True)
        if changed:
            self._atomic_write(index_path, lambda handle: handle.write(json.dumps(remote).encode()))
        return changed

    def write(self, *args: Any, **kwargs: Any) -> Any:
        raise BarStoreReadOnly(f"the bar store at {self.url.split('?')[0]} is read-only: import into a local "
                               f"store and upload it")

    def delete(self, code: str) -> bool:
        raise BarStoreReadOnly(f"the bar store at {self.url.split('?')[0]} is read-only")
