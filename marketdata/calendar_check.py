"""The KRX calendar checked against KIS's own (``chk-holiday``), when the platform has KIS keys.

``marketdata.calendars`` is the one source of trading days; it is kept by a library and corrected
by hand. Each morning (beat, before the pre-open auction) ``calendar_check`` asks KIS which of the
coming days are open (``opnd_yn``: orders can be placed) and compares:

- KIS says **closed** where we say open (an ad-hoc closure the library missed): the safe side wins
  at once: the day is remembered as closed (``broker_says_closed``) and the live runner does not
  act on it; the operators are told (a warning in the log) to add it to ``KRX_CLOSURES``;
- KIS says **open** where we say closed: nothing trades on our side (never the risky direction);
  the warning asks for a ``KRX_OPENINGS`` correction.

Without market-data keys (or when KIS cannot answer) nothing is checked and nothing changes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from marketdata.calendars import KRX, SEOUL

logger = logging.getLogger(__name__)
REMEMBER = dt.timedelta(days=45)  # KIS lists about a month ahead


def _closed_key(day: dt.date) -> str:
    return f"marketdata:krx-closed-by-broker:{day.isoformat()}"


@dataclass(frozen=True)
class Disagreement:
    """A day on which our calendar and KIS's differ: ``ours`` / ``broker`` say whether it is open."""

    day: dt.date
    ours: bool
    broker: bool


def calendar_check(*, day: dt.date | None = None, provider=None) -> list[Disagreement] | None:
    """Compare the days KIS lists from ``day`` (default: today in Seoul) with the KRX calendar; the
    disagreements (None when nothing could be checked: no keys, or KIS did not answer)."""
    from marketdata.providers.base import ProviderError
    from marketdata.providers.chain import get_provider

    if provider is None:
        if not (settings.MARKET_DATA_KIS_APP_KEY and settings.MARKET_DATA_KIS_APP_SECRET):
            return None
        provider = get_provider("kis")
    day = day or dt.datetime.now(SEOUL).date()
    try:
        listed = provider.market_days(day)
    except ProviderError as exc:
        logger.info("KRX calendar not checked against KIS: %s", exc.reason)
        return None
    found = []
    for market_day in listed:
        ours = KRX.is_trading_day(market_day.day)
        if ours == market_day.open_day:
            continue
        found.append(Disagreement(market_day.day, ours, market_day.open_day))
        if ours:
            cache.set(_closed_key(market_day.day), True, timeout=REMEMBER.total_seconds())
            logger.warning("KIS lists %s as closed but the KRX calendar has it open: the runner will not act on "
                           "it; add it to marketdata.calendars.KRX_CLOSURES", market_day.day)
        else:
            logger.warning("KIS lists %s as open but the KRX calendar has it closed: nothing trades that day; "
                           "add it to marketdata.calendars.KRX_OPENINGS if KIS is right", market_day.day)
    return found


def broker_says_closed(day: dt.date) -> bool:
    """KIS said ``day`` is closed though our calendar has it open (the last check within 45 days)."""
    return bool(cache.get(_closed_key(day)))


__all__ = ["Disagreement", "broker_says_closed", "calendar_check"]
