"""The multi-process directory: where it is, making it, wiping it at a supervisor's start.

``PROMETHEUS_MULTIPROC_DIR`` from the environment wins (the compose file sets a per-container
path). Otherwise: ``$DATA_DIR/prometheus`` (``var/prometheus`` in embedded mode), or under pytest a
fresh temporary directory per test process (so runs never add up). The chosen path is put back into
the environment, so the processes a supervisor starts (daphne, Celery's prefork children) inherit it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
BASE_DIR = Path(__file__).resolve().parents[2]


def _default() -> str:
    if "pytest" in sys.modules:
        path = tempfile.mkdtemp(prefix="quantk-metrics-")
        atexit.register(shutil.rmtree, path, True)
        return path
    return str(Path(os.environ.get("DATA_DIR") or BASE_DIR / "var") / "prometheus")


def multiproc_dir() -> str:
    """The directory, made if missing; set in the environment for this process and its children."""
    path = os.environ.get(ENV) or os.environ.get(ENV.lower())
    if not path:
        path = _default()
        os.environ[ENV] = path
    os.makedirs(path, exist_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def multiproc_wipe() -> int:
    """Remove the samples of processes that are gone (files ``<kind>_<pid>.db`` whose pid is not
    running). Call it in a supervisor before it starts the processes that write there (``serve``,
    a worker's main process): a dead run's counters would otherwise be added forever. Files of
    running processes (this one, a test run sharing the directory) are kept. Returns the files removed."""
    path = Path(multiproc_dir())
    removed = 0
    for file in path.glob("*.db"):
        pid = file.stem.rpartition("_")[2]
        if pid.isdigit() and _alive(int(pid)):
            continue
        file.unlink(missing_ok=True)
        removed += 1
    return removed


def process_dead(pid: int) -> None:
    """A process that wrote samples exited: its live gauges (websocket connections) stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, multiproc_dir())
