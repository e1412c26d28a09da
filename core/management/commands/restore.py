"""Restore a backup set: the database, the results and the bar store (or only the database into another one)."""

from __future__ import annotations

import environ
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from core.backup import database, sets
from core.backup.errors import BackupError
from core.backup.targets import target_from_settings


class Command(BaseCommand):
    help = ("Restore the backup set named by --from (see `manage.py backups`): every checksum is verified first; "
            "the database, the results and the bar store are replaced. Stop the web and worker processes first.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="name", required=True, help="the set's name, or 'latest'")
        parser.add_argument("--database-url", help="restore only the database, into this one (e.g. a scratch copy)")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, **options) -> None:
        try:
            target = target_from_settings()
            name = options["name"]
            if name == "latest":
                names = target.names()
                if not names:
                    raise BackupError(f"no backups in {target}")
                name = names[-1]
            manifest = target.manifest(name)
            url = options["database_url"]
            try:
                settings_dict = environ.Env.db_url_config(url) if url else connections["default"].settings_dict
            except Exception:  # noqa: BLE001 - environ raises several kinds for a malformed URL
                raise BackupError("--database-url is not a database URL (postgres://user@host:port/name)") from None
            what = database.describe(settings_dict) + ("" if url else ", the results and the bar store")
            self.stdout.write(f"Backup {name} from {manifest['created_at']} (version {manifest['app_version']}) "
                              f"will replace {what}.")
            if not options["yes"] and input("Type 'yes' to go on: ").strip().lower() != "yes":
                raise CommandError("Restore cancelled: nothing was changed.")
            done = sets.backup_restore(name=name, target=target, database_settings=settings_dict if url else None)
        except BackupError as error:
            raise CommandError(str(error)) from None
        except KeyError as error:
            raise CommandError(f"the manifest of backup {options['name']} lacks {error}") from None
        self.stdout.write(f"Restored {done.name}. Replaced:")
        for line in done.replaced:
            self.stdout.write(f"  - {line}")
        self.stdout.write("Migration state of the backup (for `manage.py migrate <app> <migration>`):")
        for app, leaves in sorted(manifest["migrations"].items()):
            self.stdout.write(f"  {app}: {', '.join(leaves)}")
