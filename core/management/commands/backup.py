"""Back up the database and the stored files into a new set (BACKUP_DIR or BACKUP_S3_BUCKET)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.backup import sets
from core.backup.errors import BackupError
from core.backup.targets import target_from_settings


class Command(BaseCommand):
    help = ("Back up the database (pg_dump or SQLite's backup API), the results and the bar store into one set "
            "with a manifest, then keep the newest BACKUP_KEEP sets.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--keep", type=int, help="sets to keep (default BACKUP_KEEP); never fewer than 1")

    def handle(self, *args, **options) -> None:
        try:
            target = target_from_settings()
            manifest = sets.backup_create(target=target, keep=options["keep"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        size = sum(part["size"] for part in manifest["parts"].values())
        self.stdout.write(f"Backup {manifest['name']} written to {target} ({size:,} bytes, "
                          f"{len(manifest['parts'])} parts).")
