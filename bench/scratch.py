"""The scratch database of the benchmarks that build a world of their own (bench.pages, bench.live):
embedded mode migrates SQLite in a temp DATA_DIR; with ``DATABASE_URL=postgres://…/<name>`` a fresh
test database ``test_<name>`` is created and dropped afterwards."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def scratch_database() -> dict[str, str]:
    """After ``django.setup()``: the database ready, and how the figures name it."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0)
        return {"mode": "embedded", "database": "SQLite"}
    given = connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    url = urlsplit(os.environ["DATABASE_URL"])
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path="/" + name))
    return {"mode": "full stack", "database": f"PostgreSQL {name}", "_given": given}


def run_in_scratch(args: argparse.Namespace, *, prefix: str, setup: Callable[[Path], dict[str, str]],
                   run: Callable[[argparse.Namespace], dict[str, Any]],
                   report: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """``setup`` (ending with :func:`scratch_database`) in a temp folder, ``run``, the database dropped;
    the figures printed as JSON (``args.json``) or by ``report``."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        mode = setup(Path(tmp))
        try:
            figures = {**{k: v for k, v in mode.items() if not k.startswith("_")}, **run(args)}
        finally:
            if "_given" in mode:
                from django.db import connection

                connection.creation.destroy_test_db(mode["_given"], verbosity=0)
    if args.json:
        print(json.dumps(figures, default=str))
    else:
        report(figures)
    return figures
