"""The rollback of a release, exercised once: on a scratch database at the newest migrations, every app
goes back to an earlier state (before each of our apps' newest migration and notifications' issue-17
migrations, with whatever depends on them) with the plan `backups --rollback-plan` prints, then forward
again; data survives.

Embedded pass only (a scratch SQLite file; the migrations hold no vendor-specific SQL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from core.backup.rollback import rollback_plan

pytestmark = pytest.mark.skipif("postgresql" in django_settings.DATABASES["default"]["ENGINE"],
                                reason="exercised once, on a scratch SQLite database, in the embedded pass")
ROOT = Path(__file__).resolve().parents[2]
OURS = ("accounts", "backtests", "core", "coupons", "marketdata", "notifications", "strategies", "trading")
SCRIPT = """
import json, os, sys
import django
django.setup()
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader
from django.db import connection
from core.backup.database import migration_state
from core.backup.rollback import rollback_plan

call_command("migrate", verbosity=0)
head = migration_state()
from accounts.models import User
User.objects.create_user(email="kept@example.com", password="x" * 12)
loader = MigrationLoader(connection)
graph = loader.graph
# the state before our apps' newest migrations and every migration of issue 17 (and what depends on them)
recent = [(app, head[app][0]) for app in {ours}]
recent += [child.key for child in graph.node_map[("notifications", "0001_initial")].children]
removed, todo = set(), list(recent)
while todo:
    key = todo.pop()
    if key not in removed:
        removed.add(key)
        todo += [child.key for child in graph.node_map[key].children]
remaining = set(loader.applied_migrations) - removed
wanted = {{}}
for app, name in sorted(remaining):
    if not any(child.key[0] == app and child.key in remaining for child in graph.node_map[(app, name)].children):
        wanted.setdefault(app, []).append(name)
plan = rollback_plan(wanted=wanted, current=head)
for app, migration in plan:
    call_command("migrate", app, migration, verbosity=0)
back = migration_state()
call_command("migrate", verbosity=0)
print(json.dumps({{"head": head, "wanted": wanted, "plan": plan, "back": back, "forward": migration_state(),
                  "kept": User.objects.filter(email="kept@example.com").count()}}))
"""


def test_every_recent_migration_rolls_back_and_forward_again(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'scratch.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(ours=OURS)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["wanted"]["notifications"] == ["0001_initial"]
    assert {app for app, _ in seen["plan"]} >= {"accounts", "core", "coupons", "marketdata", "strategies", "trading"}
    assert seen["back"] == seen["wanted"]  # exactly the earlier state, nothing else unapplied
    assert seen["forward"] == seen["head"]
    assert seen["kept"] == 1
    assert rollback_plan(wanted=seen["head"], current=seen["forward"]) == []
