"""Load on one app key from one process: what the cross-process tests and ``bench.brokers`` run in
each of their worker processes (Django already set up from the environment)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

SYMBOL = "005930"


def kis_client(config: dict[str, Any]) -> Any:
    """A ``KisClient`` on the mode's shared token store and budget (``trading.sharing``)."""
    from core import clock
    from trading.brokers.base import Credentials, Environment
    from trading.brokers.kis import KisClient
    from trading.sharing import shared_budget, shared_token_store

    environment = Environment(config.get("environment", "real"))
    credentials = Credentials(app_key=config["app_key"], app_secret=config["app_secret"],
                              account_no=config["account_no"], environment=environment)  # fmt: skip
    return KisClient(credentials, base_url=config["base_url"], tokens=shared_token_store(), budget=shared_budget(),
                     requests_per_second=config["per_second"], clock=clock.timestamp)  # fmt: skip


def hammer(config: dict[str, Any]) -> dict[str, Any]:
    """Touch ``config["ready"]``, wait for ``config["go"]``, then quote from ``threads`` clients for
    ``seconds``. Counts quotes, rate-limit refusals the clients saw, and any other error's code
    (which ends that client); ``budget`` names the request budget class used."""
    from django.db import connections

    from trading.brokers.base import BrokerError, RateLimited
    from trading.sharing import shared_budget

    counts: dict[str, Any] = {"quotes": 0, "rate_limited": 0, "errors": []}
    guard = threading.Lock()

    def run() -> None:
        client = kis_client(config)
        deadline = time.monotonic() + config["seconds"]
        try:
            while time.monotonic() < deadline:
                try:
                    client.quote(SYMBOL)
                    key = "quotes"
                except RateLimited:
                    key = "rate_limited"
                except BrokerError as exc:
                    counts["errors"].append(exc.code)
                    return
                with guard:
                    counts[key] += 1
        finally:
            client.close()
            connections.close_all()

    Path(config["ready"]).touch()
    while not Path(config["go"]).exists():
        time.sleep(0.005)
    threads = [threading.Thread(target=run) for _ in range(config["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {**counts, "budget": type(shared_budget()).__name__}
