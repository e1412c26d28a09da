"""Where results live (Django's default storage): local disk by default, an S3-compatible bucket when
STORAGE_S3_BUCKET is set (django-storages). No Django imports: config/settings.py calls ``results_storage``.

Result files are private: the bucket's objects get no ACL of their own (the bucket's private default)
and the platform never hands out their URLs; pages and downloads read them through the storage.
"""

from __future__ import annotations

from typing import Any

FILESYSTEM = {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def results_storage(*, bucket: str = "", prefix: str = "media", endpoint_url: str | None = None,
                    region: str | None = None, access_key: str | None = None,
                    secret_key: str | None = None) -> dict[str, Any]:
    """The STORAGES["default"] entry: the local MEDIA_ROOT without ``bucket``, else that bucket under ``prefix``."""
    if not bucket:
        return dict(FILESYSTEM)
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": prefix.strip("/"),
        "default_acl": None,
        "file_overwrite": False,  # two runs never share a name (Django picks another one)
        "endpoint_url": endpoint_url or None,
        "region_name": region or None,
    }
    if access_key:
        options.update(access_key=access_key, secret_key=secret_key)
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
