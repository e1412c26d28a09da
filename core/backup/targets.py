"""Where backup sets are kept: a local folder (BACKUP_DIR) or an S3-compatible bucket (BACKUP_S3_BUCKET).

A set is a folder ``<name>/`` of parts plus ``manifest.json``, written last: a set without its
manifest is incomplete (an interrupted upload) and is neither listed nor restored.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.backup.errors import BackupError

MANIFEST = "manifest.json"


class LocalTarget:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __str__(self) -> str:
        return f"folder {self.root}"

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BackupError(f"{self} cannot be created: {error.strerror}") from None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{MANIFEST}") if not p.parent.name.startswith("."))

    def manifest(self, name: str) -> dict[str, Any]:
        try:
            return json.loads((self.root / name / MANIFEST).read_text())
        except FileNotFoundError:
            raise BackupError(f"no backup named {name} in {self}") from None

    def staging(self, name: str) -> Path:
        """A folder on the same filesystem to build the set in (moved into place by ``store``)."""
        folder = self.root / f".incoming-{name}"
        folder.mkdir(parents=True, exist_ok=False)
        return folder

    def store(self, name: str, folder: Path) -> None:
        folder.rename(self.root / name)

    @contextmanager
    def opened(self, name: str) -> Iterator[Path]:
        self.manifest(name)
        yield self.root / name

    def delete(self, name: str) -> None:
        shutil.rmtree(self.root / name, ignore_errors=True)


class S3Target:
    def __init__(self, *, bucket: str, prefix: str, endpoint_url: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None,
            aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None,
            config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2}),
        )

    def __str__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"bucket {self.bucket}{where}"

    def _key(self, name: str, part: str = "") -> str:
        return "/".join(p for p in (self.prefix, name, part) if p)

    @contextmanager
    def _talking(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            raise BackupError(f"{what} in {self} failed: {code}") from None
        except BotoCoreError as error:
            raise BackupError(f"{what}: {self} is unreachable ({error.__class__.__name__})") from None

    def check(self) -> None:
        with self._talking("reaching the bucket"):
            self.client.head_bucket(Bucket=self.bucket)

    def names(self) -> list[str]:
        found = set()
        with self._talking("listing backups"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key("") + "/" if self.prefix else "")
            for page in pages:
                for item in page.get("Contents", []):
                    parts = item["Key"][len(self.prefix) + 1 if self.prefix else 0:].split("/")
                    if len(parts) == 2 and parts[1] == MANIFEST:
                        found.add(parts[0])
        return sorted(found)

    def manifest(self, name: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            with self._talking(f"reading backup {name}"):
                try:
                    body = self.client.get_object(Bucket=self.bucket, Key=self._key(name, MANIFEST))["Body"].read()
                except ClientError as error:
                    if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                        raise LookupError from None
                    raise
        except LookupError:
            raise BackupError(f"no backup named {name} in {self}") from None
        return json.loads(body)

    def staging(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"backup-{name}-"))

    def store(self, name: str, folder: Path) -> None:
        try:
            with self._talking(f"uploading backup {name}"):
                parts = sorted(p for p in folder.iterdir() if p.name != MANIFEST)
                for path in [*parts, folder / MANIFEST]:  # the manifest last: it marks the set complete
                    self.client.upload_file(str(path), self.bucket, self._key(name, path.name))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def opened(self, name: str) -> Iterator[Path]:
        manifest = self.manifest(name)
        folder = Path(tempfile.mkdtemp(prefix=f"restore-{name}-"))
        try:
            with self._talking(f"downloading backup {name}"):
                for part in manifest["parts"]:
                    self.client.download_file(self.bucket, self._key(name, part), str(folder / part))
            (folder / MANIFEST).write_text(json.dumps(manifest))
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def delete(self, name: str) -> None:
        with self._talking(f"deleting backup {name}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                          Prefix=self._key(name) + "/")
            for page in pages:
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})


def target_from_settings() -> LocalTarget | S3Target:
    """BACKUP_S3_BUCKET set: that bucket (with the AWS_* settings django-storages reads); else BACKUP_DIR."""
    from django.conf import settings

    bucket = getattr(settings, "BACKUP_S3_BUCKET", "")
    if bucket:
        return S3Target(
            bucket=bucket, prefix=getattr(settings, "BACKUP_S3_PREFIX", "backups"),
            endpoint_url=getattr(settings, "AWS_S3_ENDPOINT_URL", None),
            region=getattr(settings, "AWS_S3_REGION_NAME", None),
            access_key=getattr(settings, "AWS_ACCESS_KEY_ID", None),
            secret_key=getattr(settings, "AWS_SECRET_ACCESS_KEY", None),
        )
    default = Path(getattr(settings, "DATA_DIR", Path(settings.BASE_DIR) / "var")) / "backups"
    return LocalTarget(Path(getattr(settings, "BACKUP_DIR", None) or default))
