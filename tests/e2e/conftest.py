"""Browser end-to-end tests: Debian's chromium (Playwright) against a real `manage.py serve`.

The server (daphne, with the embedded Celery worker in in-memory mode, or next to a
real worker process when a Redis broker is configured) runs as a subprocess on the
test database pytest-django created, so tests use `transactional_db`: what they
write is committed and visible to the server.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

# Sync Playwright runs an event loop in the main thread; Django's ORM must not object.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The trading clock of the server (and worker) processes: they read this file (core.clock); a test
# moves them with the ``server_clock`` fixture. Absent, it is the real clock.
SERVER_CLOCK_FILE = Path(os.environ.get("TMPDIR", "/tmp")) / f"e2e-server-clock-{os.getpid()}.json"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
# A browser test still running after this long is stuck in a Playwright call that has no timeout of
# its own (an evaluate whose page never answers, a download that never ends): the watchdog prints
# where it stands and kills the browser, so the test fails with its name instead of the whole run
# hanging until CI gives up.
WATCHDOG_SECONDS = float(os.environ.get("E2E_WATCHDOG_SECONDS", "240"))
SERVER_START_TIMEOUT = 30.0
SKIP_REASON = f"browser tests skipped: {CHROMIUM_PATH} not found (apt-get install chromium)"


# ---------------------------------------------------------------------------
# Collection: mark everything here e2e; skip it all without a browser
# ---------------------------------------------------------------------------
def _is_e2e(item: pytest.Item) -> bool:
    try:
        Path(str(item.path)).resolve().relative_to(E2E_DIR)
    except ValueError:
        return False
    return True


# Browser tests of pages alone (forms, layout, colours, policies): the server's database and broker
# change nothing they see, so they run once, in the embedded pass (the README's test command); the
# full-stack pass keeps those whose page follows a real worker, the Redis channel layer or feeds.
PAGE_ONLY_MODULES = frozenset({
    "test_account_pages", "test_backtest_pages", "test_charts_and_colours", "test_coupons", "test_csp",
    "test_data_coverage", "test_invites", "test_marketdata", "test_plans", "test_site_chrome", "test_strategies",
    "test_trading_accounts", "test_user_flows", "test_announcements_webhooks", "test_telegram_link", "test_feedback",
})
PAGE_ONLY_REASON = "page-only browser test: it runs in the embedded pass"


def _full_stack() -> bool:
    from django.conf import settings

    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def pytest_collection_modifyitems(config, items) -> None:
    # Hooks in a sub-directory conftest still see every collected item: keep to ours.
    has_browser = os.path.exists(CHROMIUM_PATH)
    full_stack = _full_stack()
    for item in items:
        if not _is_e2e(item):
            continue
        item.add_marker(pytest.mark.e2e)
        if not has_browser:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
        elif full_stack and Path(str(item.path)).stem in PAGE_ONLY_MODULES:
            item.add_marker(pytest.mark.skip(reason=PAGE_ONLY_REASON))


def _greenlet_stacks() -> str:
    # The test's own frames wait in a parked greenlet (sync Playwright): thread dumps miss them.
    try:
        from greenlet import greenlet
    except ImportError:  # pragma: no cover - Playwright depends on it
        return ""
    stacks = []
    for candidate in gc.get_objects():
        if isinstance(candidate, greenlet) and candidate.gr_frame is not None:
            stacks.append("".join(traceback.format_stack(candidate.gr_frame)))
    return "\n--- greenlet ---\n".join(stacks)


def _browser_pids() -> list[int]:
    """Chromium processes descended from this test process (Playwright's driver starts them)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            names[int(entry.name)] = (entry / "comm").read_text().strip()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])

    def descends(pid: int) -> bool:
        seen = set()
        while pid not in seen and pid > 1:
            seen.add(pid)
            pid = parents.get(pid, 0)
            if pid == os.getpid():
                return True
        return False

    return [pid for pid, name in names.items() if "chrom" in name and descends(pid)]


def _watchdog_fired(nodeid: str) -> None:
    sys.__stderr__.write(
        f"\n!!! browser test {nodeid} still running after {WATCHDOG_SECONDS:.0f} s: killing the browser\n"
        f"{_greenlet_stacks()}\n"
    )
    sys.__stderr__.flush()
    for pid in _browser_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not _is_e2e(item):
        yield
        return
    timer = threading.Timer(WATCHDOG_SECONDS, _watchdog_fired, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


# ---------------------------------------------------------------------------
# Overrides of the root conftest
# ---------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, media_root):
    """Replaces the root fixture of the same name for browser tests.

    The root one switches the test process to the MD5 hasher, but the server
    subprocess keeps Django's default hashers and could not check those
    passwords: users created here must be hashed the way the server expects.
    The test process and the server share one MEDIA_ROOT of the session, never a developer's var/media.
    """
    from django.core.cache import cache

    settings.MEDIA_ROOT = media_root
    cache.clear()
    yield
    cache.clear()


# ---------------------------------------------------------------------------
# The live server
# ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(settings_dict: dict) -> str:
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if "sqlite3" in engine:
        path = Path(name)
        if not path.is_absolute():
            path = (REPO_ROOT / path).resolve()
        return f"sqlite:///{path}"  # sqlite:////abs/path
    if "postgresql" in engine:
        user = quote(settings_dict.get("USER") or "", safe="")
        password = settings_dict.get("PASSWORD") or ""
        credentials = f"{user}:{quote(password, safe='')}" if password else user
        host = settings_dict.get("HOST") or "localhost"
        port = settings_dict.get("PORT") or "5432"
        at = f"{credentials}@" if credentials else ""
        return f"postgres://{at}{host}:{port}/{quote(name, safe='')}"
    raise RuntimeError(f"browser tests do not know how to hand the database {engine!r} to a subprocess")


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return text[-limit:] or "(no output)"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def mailbox_dir(tmp_path_factory) -> Path:
    """Where the server's file email backend writes every message it sends."""
    return tmp_path_factory.mktemp("mailbox")


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    """The server's stored files (results, feedback screenshots): never a developer's var/media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def market_data_root(tmp_path_factory) -> Path:
    """The server's own bar store: tests write here, never into a developer's var/marketdata."""
    return tmp_path_factory.mktemp("marketdata")


@pytest.fixture(scope="session")
def fake_kis_server():
    """A fake KIS (real and mock hosts in one) the server's broker settings point at."""
    from trading.fakes.kis import FakeKis

    server = FakeKis().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker, mailbox_dir, market_data_root, media_root, fake_kis_server,
                    tmp_path_factory) -> str:
    from django.conf import settings
    from django.db import connection

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        DATABASE_URL=_database_url(connection.settings_dict),
        # django-environ drops the first "/" of the path: "filemail:///" + "/abs/dir".
        EMAIL_URL=f"filemail:///{mailbox_dir}",
        ACCOUNT_EMAIL_VERIFICATION="mandatory",
        SITE_URL=url,
        MARKET_DATA_ROOT=str(market_data_root),
        MEDIA_ROOT=str(media_root),
        BROKER_KIS_REAL_URL=fake_kis_server.url,
        BROKER_KIS_MOCK_URL=fake_kis_server.url,
        CLOCK_FILE=str(SERVER_CLOCK_FILE),
        REPLAY_SECONDS_PER_DAY="0.3",  # a replayed month plays in seconds
        # prices on the pages are the ticks the tests push: the paper poller would replace them within
        # seconds with the last close of bars another test wrote
        REALTIME_POLL_SECONDS="3600",
        # the Telegram section offers its link; nothing is sent to Telegram by the pages
        TELEGRAM_BOT_USERNAME="quantk_e2e_bot", TELEGRAM_BOT_TOKEN="123456:e2e-not-a-real-token",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        PYTHONUNBUFFERED="1",
    )
    logs = tmp_path_factory.mktemp("server-logs")
    commands = {
        "server": [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-beat"],
    }
    if not settings.CELERY_EMBEDDED:
        commands["worker"] = [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "-l", "INFO", "--concurrency", "1", "--pool", "solo",
        ]  # fmt: skip

    processes: dict[str, tuple[subprocess.Popen, Path]] = {}

    def output() -> str:
        return "\n".join(
            f"----- {name} (exit code {proc.poll()}) -----\n{_tail(log)}" for name, (proc, log) in processes.items()
        )

    try:
        for name, command in commands.items():
            log = logs / f"{name}.log"
            with open(log, "wb") as handle:
                proc = subprocess.Popen(
                    command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            processes[name] = (proc, log)

        deadline = time.monotonic() + SERVER_START_TIMEOUT
        last_error: object = None
        while True:
            dead = [name for name, (proc, _) in processes.items() if proc.poll() is not None]
            if dead:
                raise RuntimeError(f"{', '.join(dead)} exited before /health answered\n{output()}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
                    last_error = f"HTTP {response.status}"
            except (urllib.error.URLError, OSError) as error:
                last_error = error
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{url}/health did not answer 200 within {SERVER_START_TIMEOUT:.0f} s "
                    f"(last error: {last_error})\n{output()}"
                )
            time.sleep(0.2)

        yield url
    finally:
        for proc, _ in processes.values():
            _stop(proc)


# ---------------------------------------------------------------------------
# The browser
# ---------------------------------------------------------------------------
# Package scope: sync Playwright keeps an event loop running in the main thread, so it
# must be gone before pytest-django's ordering runs the async (non-db) tests after these.
@pytest.fixture(scope="package")
def browser(tmp_path_factory):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    # chromium.launch() uses a fresh temporary profile; keep its scratch files in our tmp dir.
    downloads = tmp_path_factory.mktemp("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, downloads_path=str(downloads)
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser, live_server_url):
    """Open a page in a brand-new context (own cookies); all are closed after the test."""
    if not browser.is_connected():
        pytest.fail("the browser is gone: the watchdog killed it in an earlier, stuck test (see above)")
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server_url, locale="ko-KR", timezone_id="Asia/Seoul")
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    if browser.is_connected():
        for context in contexts:
            context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def server_clock(monkeypatch):
    """Share the trading clock with the server processes for one test: ``clock.set_to`` /
    ``clock.travel`` in the test move theirs too (the file they read); the real clock after it."""
    from core import clock

    monkeypatch.setenv("CLOCK_FILE", str(SERVER_CLOCK_FILE))
    try:
        yield clock
    finally:
        clock.reset()
        SERVER_CLOCK_FILE.unlink(missing_ok=True)

