"""Is trading through a broker limited right now? The connection check decides; pages and the order
path read it.

When the broker's own side fails (unreachable, no answer, limiting) for a large share of the checked
accounts at once (``BROKER_OUTAGE_FAILURE_SHARE`` of them, at least ``BROKER_OUTAGE_MIN_ACCOUNTS``),
the broker is marked limited: affected users see a banner, and ``broker_trading_check`` refuses new
orders with a clear message (never queued to be sent later at stale prices) until a check finds it
working again. Credential failures of single accounts never count: those are the account's problem.
The state lives in the default cache: Redis in the full stack (every process sees it), the web
process's memory in embedded mode, where the worker that runs the check is a thread of that process.
One index key lists the limited brokers, so a page costs one cache read and no query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError
from trading.brokers.base import BrokerError
from trading.messages import is_broker_side

LIMITED = _("Trading through %(broker)s is limited: its service is not answering normally. New orders are "
            "refused until it recovers; nothing is queued to be sent later.")
STATE_SECONDS = 3 * 3600  # a stale mark expires on its own if checks stop


INDEX_KEY = "trading:outages"


def _cache() -> Any:
    return caches["default"]


def _all() -> dict[str, dict[str, Any]]:
    return _cache().get(INDEX_KEY) or {}


def _mark(broker: str, environment: str, record: dict[str, Any] | None) -> None:
    state = _all()
    key = f"{broker}:{environment}"
    if record is None:
        if key not in state:
            return
        state.pop(key)
    else:
        state[key] = record
    _cache().set(INDEX_KEY, state, STATE_SECONDS)


def record_check(*, broker: str, environment: str, errors: Sequence[BrokerError | None]) -> bool:
    """Record one check round of a broker's accounts; returns whether it is now limited."""
    broker_side = sum(1 for error in errors if error is not None and is_broker_side(error))
    limited = (broker_side >= settings.BROKER_OUTAGE_MIN_ACCOUNTS
               and broker_side >= settings.BROKER_OUTAGE_FAILURE_SHARE * len(errors))
    previous = _all().get(f"{broker}:{environment}")
    if limited:
        since = previous["since"] if previous else timezone.now().isoformat()
        _mark(broker, environment, {"since": since, "failed": broker_side, "checked": len(errors)})
    else:
        _mark(broker, environment, None)
    return limited


def limited(broker: str, environment: str) -> dict[str, Any] | None:
    """The outage record of a broker environment, or None when trading through it is normal."""
    return _all().get(f"{broker}:{environment}")


def set_limited(*, broker: str, environment: str, on: bool) -> None:
    """Operators' switch (admin) to mark or clear a broker outage by hand."""
    _mark(broker, environment, {"since": timezone.now().isoformat(), "manual": True} if on else None)


def broker_trading_check(*, broker: str, environment: str) -> None:
    """Raise ``ApplicationError`` (code ``broker_limited``) when new orders through the broker must
    be refused. The order service of the next issue calls this before writing an order."""
    if broker != "paper" and limited(broker, environment):
        from trading.models import BrokerKind

        raise ApplicationError(str(LIMITED) % {"broker": BrokerKind(broker).label}, code="broker_limited")


def outages_for(user: Any) -> list[str]:
    """Banner lines for the brokers this user trades through that are limited now."""
    state = _all()
    if not state or not getattr(user, "is_authenticated", False):
        return []
    from trading.models import BrokerAccount, BrokerKind

    pairs = set(BrokerAccount.objects.filter(owner=user).exclude(broker=BrokerKind.PAPER)
                .values_list("broker", "environment"))
    return [str(LIMITED) % {"broker": BrokerKind(broker).label}
            for broker, environment in sorted(pairs) if f"{broker}:{environment}" in state]
