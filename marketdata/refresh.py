"""Re-import one instrument's daily bars from the provider chain into the bar store.

Called by the admin's "re-import" action (and fit for a task later): it loads the instrument,
asks the outside providers, and merges what they answer into the store (the new row wins).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from marketdata import selectors
from marketdata.providers.chain import ProviderChain, default_chain
from marketdata.store import BarStore

# Where a re-import starts when the store has nothing of the instrument yet.
DEFAULT_HISTORY_START = date(2000, 1, 1)
# Our own store: asking it would hand our bars back to us, which re-imports nothing.
LOCAL_PROVIDER = "local"


def bars_refresh(*, code: str, start: date | None = None, end: date | None = None) -> str:
    """Fetch ``code``'s bars from ``start`` to ``end`` from the provider chain and store them.

    ``start`` defaults to the first stored day (or ``DEFAULT_HISTORY_START``), ``end`` to today in
    Seoul. The chain's cache is bypassed: a re-import wants fresh data. Returns a message for
    staff. Raises ``UnknownInstrument`` for unknown codes and ``ProviderError`` (usually
    ``AllProvidersFailed``, listing each provider's reason) when no provider answers.
    """
    instrument = selectors.instrument_get(code=code)
    if start is None:
        coverage = selectors.instrument_coverage(code=instrument.code)
        start = coverage.first if coverage else DEFAULT_HISTORY_START
    end = end or timezone.localdate()
    configured = default_chain()
    chain = ProviderChain([p for p in configured.providers if p.name != LOCAL_PROVIDER], cache_seconds=0)
    answer = chain.daily_bars(instrument.code, start, end)
    result = BarStore(settings.MARKET_DATA_ROOT).write(instrument.code, instrument.market, **answer.bars.columns())
    return _("%(code)s: %(added)d new and %(replaced)d updated bars from %(provider)s (%(total)d stored).") % {
        "code": instrument.code,
        "added": result.rows_added,
        "replaced": result.rows_replaced,
        "provider": answer.provider,
        "total": result.rows_total,
    }
