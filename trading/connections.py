"""Build the broker client of an account: the one place that knows which class, URL and budget.

Every client of a mode shares one token per app key and one request budget per app key
(``trading.sharing``) and reads the trading clock (``core.clock``).
"""

from __future__ import annotations

import httpx
from django.conf import settings

from core import clock
from trading.brokers.base import BrokerClient, Credentials, Environment
from trading.models import BrokerAccount, BrokerKind


def base_url(broker: str, environment: str) -> str:
    return getattr(settings, f"BROKER_{broker.upper()}_{environment.upper()}_URL")


def requests_per_second(broker: str, environment: str) -> int:
    return int(getattr(settings, f"BROKER_{broker.upper()}_{environment.upper()}_REQUESTS_PER_SECOND"))


def _timeout() -> httpx.Timeout:
    connect, read = settings.BROKER_HTTP_CONNECT_TIMEOUT, settings.BROKER_HTTP_READ_TIMEOUT
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def client_for(broker: str, credentials: Credentials) -> BrokerClient:
    """A KIS or Kiwoom client for ``credentials`` (which may not be saved yet: connect verifies first)."""
    from trading.sharing import shared_budget, shared_token_store

    environment = Environment(credentials.environment)
    if broker == BrokerKind.KIS:
        from trading.brokers.kis import KisClient as client_class
    elif broker == BrokerKind.KIWOOM:
        from trading.brokers.kiwoom import KiwoomClient as client_class
    else:
        raise ValueError(f"no REST client for broker {broker!r}")
    return client_class(
        credentials,
        base_url=base_url(broker, environment),
        tokens=shared_token_store(),
        budget=shared_budget(),
        requests_per_second=requests_per_second(broker, environment),
        timeout=_timeout(),
        clock=clock.timestamp,
    )


def broker_client(account: BrokerAccount) -> BrokerClient:
    """The client that acts for ``account`` (paper accounts: the platform's own paper broker)."""
    if account.is_paper:
        from trading.paper.client import PaperClient

        return PaperClient(account, clock=clock.timestamp)
    return client_for(account.broker, account.credentials())
