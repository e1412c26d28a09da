"""List the backup sets of BACKUP_DIR or BACKUP_S3_BUCKET, oldest first."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.backup import database, sets
from core.backup.rollback import rollback_plan
from core.backup.errors import BackupError
from core.backup.targets import target_from_settings


class Command(BaseCommand):
    help = ("List backup sets (name, time, app version, size); `restore --from <name>` restores one. "
            "--rollback-plan <name>: the migrate commands that bring the schema back to that set's state.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--rollback-plan", metavar="NAME", help="print the migrations to roll back to")

    def handle(self, *args, **options) -> None:
        try:
            target = target_from_settings()
            if options["rollback_plan"]:
                self._plan(target.manifest(options["rollback_plan"]))
                return
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

    def _plan(self, manifest: dict) -> None:
        plan = rollback_plan(wanted=manifest["migrations"], current=database.migration_state())
        if not plan:
            self.stdout.write(f"The schema already has the migration state of {manifest['name']}.")
            return
        self.stdout.write(f"To the migration state of {manifest['name']} (version {manifest['app_version']}), "
                          f"with the new release still deployed, run in this order:")
        for app, migration in plan:
            self.stdout.write(f"  python manage.py migrate {app} {migration}")
