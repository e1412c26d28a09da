"""``manage.py run_feeds``: the realtime price feed and the execution notice listeners, until stopped.

The full stack runs it as its own service (``feeds`` in docker-compose.yml): one process, so each
app key has one websocket session (KIS allows one). Embedded mode runs the same feeds as threads of
the web process instead (``manage.py serve``). See ``trading.realtime.feeds``.
"""

from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand

from trading.realtime.feeds import feeds_start

logger = logging.getLogger("trading.realtime")


class Command(BaseCommand):
    help = ("Run the realtime price feed (KIS websocket for watched symbols, the rest polled; the paper "
            "broker's prices without market-data keys) and the execution notice listeners until stopped.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-prices", action="store_true", help="do not run the price feed")
        parser.add_argument("--no-notices", action="store_true", help="do not run the execution notice listeners")

    def handle(self, *args, no_prices: bool, no_notices: bool, **options) -> None:
        stop = threading.Event()
        previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            threads = feeds_start(stop, prices=not no_prices, notices=not no_notices)
            self.stdout.write(f"Feeds running: {', '.join(t.name for t in threads) or 'none'} (stop with Ctrl+C)")
            self.stdout.flush()
            while not stop.wait(1.0):
                if not any(thread.is_alive() for thread in threads):
                    break
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("Feeds stopped")
