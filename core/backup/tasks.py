"""The scheduled backup (beat entry "core-backup-daily")."""

from __future__ import annotations

import logging

from celery import shared_task

from core.backup import sets
from core.backup.errors import BackupError

logger = logging.getLogger(__name__)


# a dump of a large database takes longer than the default task limits; never retried by a redelivery
@shared_task(name="core.backup_run", acks_late=False, time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def backup_run() -> str:
    """One backup set with retention; a failure is logged as an error (the operators' alerts pick errors up)."""
    try:
        manifest = sets.backup_create()
    except BackupError as error:
        logger.error("scheduled backup failed: %s", error)
        raise
    return manifest["name"]
