"""Backups of the database and the stored files, their retention and restore (see docs/runbook.md).

Services: ``core.backup.sets`` (backup_create, backup_list, backup_prune, backup_verify, backup_restore);
doors: the ``backup``, ``backups`` and ``restore`` management commands and the ``core.backup_run`` task.
"""
