"""List the backup sets of BACKUP_DIR or BACKUP_S3_BUCKET, oldest first."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.backup import sets
from core.backup.errors import BackupError
from core.backup.targets import target_from_settings


class Command(BaseCommand):
    help = "List backup sets (name, time, app version, size); `restore --from <name>` restores one."

    def handle(self, *args, **options) -> None:
        try:
            target = target_from_settings()
            manifests = sets.backup_list(target=target)
        except BackupError as error:
            raise CommandError(str(error)) from None
        if not manifests:
            self.stdout.write(f"No backups in {target}.")
            return
        self.stdout.write(f"Backups in {target}:")
        for manifest in manifests:
            size = sum(part["size"] for part in manifest["parts"].values())
            self.stdout.write(f"  {manifest['name']}  {manifest['created_at']}  version {manifest['app_version']}  "
                              f"{manifest['database']['vendor']}  {size:,} bytes")
