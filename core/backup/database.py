"""Dump and restore the database: pg_dump/pg_restore for PostgreSQL, the sqlite3 backup API for SQLite.

Both give a consistent copy while the application keeps writing: pg_dump reads one snapshot, the
sqlite3 backup API copies page by page under SQLite's own locks (restarting when a writer changes a page).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.db import connections
from django.db.migrations.loader import MigrationLoader

from core.backup.errors import BackupError

POSTGRESQL = "postgresql"
SQLITE = "sqlite"
# pg_dump/pg_restore answer within this many seconds or are stopped (a dump of a large database
# takes minutes; a tool that waits for a password prompt would wait forever)
TOOL_TIMEOUT = 6 * 3600


def vendor_of(settings_dict: dict[str, Any]) -> str:
    engine = settings_dict["ENGINE"]
    if "postgresql" in engine:
        return POSTGRESQL
    if "sqlite3" in engine:
        return SQLITE
    raise BackupError(f"backups support PostgreSQL and SQLite, not {engine}")


def part_name(vendor: str) -> str:
    return "database.dump" if vendor == POSTGRESQL else "database.sqlite3"


def describe(settings_dict: dict[str, Any]) -> str:
    """'postgresql database "x" on host:port' / 'sqlite database /path': no password."""
    if vendor_of(settings_dict) == SQLITE:
        return f"sqlite database {settings_dict['NAME']}"
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f'postgresql database "{settings_dict["NAME"]}" on {host}:{port}'


def _tool(name: str) -> str:
    folder = os.environ.get("PG_BIN_DIR", "")
    found = shutil.which(name, path=folder or None)
    if not found:
        raise BackupError(f"{name} is not installed (not found in {'PG_BIN_DIR' if folder else 'PATH'}): "
                          f"install the PostgreSQL client tools of the server's major version")
    return found


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq's variables: the password never appears on a command line (ps shows those)."""
    env = dict(os.environ)
    values = {"PGHOST": settings_dict.get("HOST"), "PGPORT": settings_dict.get("PORT"),
              "PGUSER": settings_dict.get("USER"), "PGPASSWORD": settings_dict.get("PASSWORD"),
              "PGDATABASE": settings_dict.get("NAME")}
    env.update({key: str(value) for key, value in values.items() if value})
    sslmode = (settings_dict.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _run(command: list[str], settings_dict: dict[str, Any], what: str, *, options: str = "") -> None:
    env = _pg_env(settings_dict)
    if options:
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {options}".strip()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within {TOOL_TIMEOUT} s") from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{what} failed ({describe(settings_dict)}): {detail[-1] if detail else done.returncode}")


def database_dump(*, settings_dict: dict[str, Any], alias: str, target: Path) -> None:
    """Write a consistent copy of the database to ``target``. Raises BackupError."""
    if vendor_of(settings_dict) == POSTGRESQL:
        command = [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={target}"]
        _run(command, settings_dict, "pg_dump")
        return
    connection = connections[alias]
    if connection.in_atomic_block:
        # the copy would wait forever for the write lock this very connection holds
        raise BackupError("a SQLite backup cannot run inside a transaction")
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)  # the sqlite3 connection Django holds
    except sqlite3.Error as error:
        raise BackupError(f"the sqlite backup failed: {error}") from None
    finally:
        copy.close()


def database_restore(*, settings_dict: dict[str, Any], alias: str | None, source: Path) -> None:
    """Replace the database's content with the dump at ``source``. Raises BackupError.

    PostgreSQL: pg_restore --clean --if-exists in one transaction (a failed restore leaves the
    database as it was); objects created after the backup and absent from it stay. SQLite: the
    backup API copies the file's pages over the live database.
    """
    if vendor_of(settings_dict) == POSTGRESQL:
        connections.close_all()  # no idle connection of ours holds a lock the DROPs wait on
        command = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                   "--single-transaction", "--no-password", f"--dbname={settings_dict['NAME']}", str(source)]
        # a session still using a table makes a DROP wait: fail after a minute (nothing changed) instead of hanging
        _run(command, settings_dict, "pg_restore (stop the web, worker and beat processes if a lock timed out)",
             options="-c lock_timeout=60000")
        return
    copy = sqlite3.connect(source)
    try:
        if alias is not None:
            connection = connections[alias]
            connection.close()
            connection.ensure_connection()
            copy.backup(connection.connection)
        else:
            target = sqlite3.connect(settings_dict["NAME"])
            try:
                copy.backup(target)
            finally:
                target.close()
    except sqlite3.Error as error:
        raise BackupError(f"the sqlite restore failed: {error}") from None
    finally:
        copy.close()


def migration_state(alias: str = "default") -> dict[str, list[str]]:
    """Per app, the applied migrations no other applied migration of that app depends on (its leaves)."""
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    applied = set(loader.applied_migrations)
    state: dict[str, list[str]] = {}
    for app, name in sorted(applied):
        node = loader.graph.node_map.get((app, name))
        children = {child.key for child in node.children} if node is not None else set()
        if not any(child[0] == app and child in applied for child in children):
            state.setdefault(app, []).append(name)
    return state
