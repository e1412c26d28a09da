"""Execution notices (KIS ``H0STCNI0`` real / ``H0STCNI9`` mock, A8; Kiwoom ``00``, B8) into the ledger.

One listener per user app key (a ``KisStream`` of that key) registers the HTS IDs of the KIS
accounts using it (``BrokerAccount.hts_id``); the accounts are read again every
``REALTIME_NOTICE_ACCOUNTS_SECONDS``, a listener started for a new key, stopped for a key gone. One
HTS ID covers every account linked to it, so each notice is matched to our account by its number.
A Kiwoom key acts for one account: its listener registers ``00`` (every order of the account) with
the key's access token.

- A fill (``CNTG_YN 2``) is booked at once through ``order_fill_record`` (source ``notice``). A
  notice says the fill's own quantity, not the order's total, while the ledger counts fills by the
  order's cumulative quantity (``fill_key`` = order number + cumulative quantity): the listener sums
  the notices of each order (in the cache, for a day) and reports that sum as the cumulative
  quantity. The notices are a subset of the broker's fills (a notice delivered twice is summed
  once), so the sum never passes what the broker's listing says: a fill the polling or the
  reconciliation booked first is not counted again (and the other way round), and a notice missed
  while disconnected is left to them.
- An account on the platform's market-data key gets no listener (that key's one session is the
  price feed's): its fills come by polling.
- A receipt, a refusal (``RFUS_YN 1``), or a fill of an order the ledger does not know (yet) asks
  for a reconciliation of the account soon (``orders_reconcile_account``): polling and
  reconciliation stay the source of truth.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import close_old_connections

from core.audit import Actor

from .kis_ws import NOTICE_TRS, KisStream, Notice, notice_from_fields, notice_tr
from .kiwoom_ws import TYPE_ORDERS, KiwoomStream, notice_from_values

logger = logging.getLogger("trading.realtime")

NOTICE_ACTOR = Actor.system("execution notice")
SUM_SECONDS = 2 * 86400  # an order's notice sum is kept past its trading day
NUDGE_SECONDS = 2.0  # one reconciliation request per account within this long


# -- one notice -------------------------------------------------------------------------------
def _order_numbers(order_no: str) -> list[str]:
    """KIS and Kiwoom pad order numbers with zeros (``0000012345``, ``0000123``); match any spelling."""
    bare = order_no.lstrip("0") or order_no
    return list(dict.fromkeys([order_no, bare, bare.zfill(10), bare.zfill(7)]))  # KIS 10 digits, Kiwoom 7


def _notice_sum(account_id: int, notice: Notice) -> Decimal | None:
    """The order's filled quantity as the notices seen so far tell it, this one included; None
    when this very notice was seen already (a notice delivered twice must not add twice: a sum
    too high would count shares the broker never filled, a sum too low is made good by polling)."""
    key = f"realtime:notice-filled:{account_id}:{notice.order_no.lstrip('0') or notice.order_no}"
    total, seen = cache.get(key) or ("0", [])
    if notice.fill_id and notice.fill_id in seen:
        return None
    total = Decimal(total) + notice.quantity
    cache.set(key, (str(total), [*seen, notice.fill_id][-200:]), timeout=SUM_SECONDS)
    return total


def reconcile_nudge(account_id: int) -> None:
    """Ask for a reconciliation of the account soon (at most one per ``NUDGE_SECONDS``)."""
    from trading.orders.services import enqueue_reconcile

    if cache.add(f"realtime:notice-reconcile:{account_id}", 1, timeout=NUDGE_SECONDS):
        enqueue_reconcile(account_id)


def notice_fill_record(*, account_id: int, notice: Notice):
    """Book a fill notice of ``account_id`` into its order (once, however often it or the polling
    reports it); the new ``Fill``, or None when it adds nothing or the order is not known."""
    from core import clock
    from marketdata.calendars import SEOUL
    from trading.orders.fills import FillReport
    from trading.orders.models import FillSource, Order
    from trading.orders.services import order_fill_record

    cumulative = _notice_sum(account_id, notice)
    if cumulative is None:
        return None
    today = clock.now().astimezone(SEOUL).date()
    orders = Order.objects.filter(account_id=account_id, broker_order_no__in=_order_numbers(notice.order_no))
    order = orders.filter(order_day=today).first() or orders.order_by("-created_at").first()
    if order is None or order.symbol != notice.symbol:
        reconcile_nudge(account_id)  # an order from HTS, or one whose acknowledgement is still on its way
        return None
    report = FillReport(order_no=order.broker_order_no, cumulative_quantity=cumulative, price=notice.price)
    fill = order_fill_record(order_id=order.pk, report=report, source=FillSource.NOTICE, actor=NOTICE_ACTOR)
    if fill is not None:
        logger.info("order %s: a fill of %s from an execution notice", order.pk, fill.quantity.normalize())
    return fill


def notice_handle(*, account_id: int, notice: Notice):
    """A fill is booked; anything else asks for a reconciliation of the account."""
    if notice.filled and not notice.refused and notice.quantity > 0:
        return notice_fill_record(account_id=account_id, notice=notice)
    reconcile_nudge(account_id)
    return None


# -- the listeners ----------------------------------------------------------------------------
@dataclass
class KeyGroup:
    """The accounts of one app key, environment and broker: their HTS IDs (KIS) and numbers."""

    key_id: str
    environment: str
    broker: str = "kis"
    account_ids: dict[str, int] = field(default_factory=dict)  # account number (digits) -> account id
    hts_ids: set[str] = field(default_factory=set)
    stream: KisStream | KiwoomStream | None = None
    thread: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def wanted(self) -> list[tuple[str, str]]:
        if self.broker == "kiwoom":
            return [(TYPE_ORDERS, "")]  # every order of the key's account
        return [(notice_tr(self.environment), hts_id) for hts_id in sorted(self.hts_ids)]

    def account_of(self, number: str) -> int | None:
        """Our account of a notice's account number (10 digits, or the 8 of CANO)."""
        if number in self.account_ids:
            return self.account_ids[number]
        if self.broker == "kiwoom" and len(self.account_ids) == 1:  # a Kiwoom key acts for one account
            return next(iter(self.account_ids.values()))
        return next((pk for digits, pk in self.account_ids.items() if number and digits[:8] == number[:8]), None)

    def on_data(self, kind: str, record: Any) -> None:
        if kind == TYPE_ORDERS:
            notice = notice_from_values(record.get("values") or {})
        elif kind in NOTICE_TRS:
            notice = notice_from_fields(record)
        else:
            return
        if notice is None:
            return
        account_id = self.account_of(notice.account_no)
        if account_id is None:  # another account under the same HTS ID, not on the platform
            return
        close_old_connections()
        notice_handle(account_id=account_id, notice=notice)


def market_data_key_ids() -> set[str]:
    """The non-secret ids of the platform's market-data app keys (their session is the price feed's)."""
    from django.conf import settings

    from trading.brokers.base import Credentials

    keys = (settings.MARKET_DATA_KIS_APP_KEY, settings.MARKET_DATA_KIWOOM_APP_KEY)
    return {Credentials(app_key=key, app_secret="").key_id for key in keys if key}


def notice_accounts():
    """The accounts that can receive notices: KIS with an HTS ID, and Kiwoom; keys saved, not disabled."""
    from django.db.models import Q

    from trading.models import AccountStatus, BrokerAccount, BrokerKind

    return (BrokerAccount.objects.filter((Q(broker=BrokerKind.KIS) & ~Q(hts_id="")) | Q(broker=BrokerKind.KIWOOM))
            .exclude(app_key_encrypted="").exclude(status=AccountStatus.DISABLED).order_by("pk"))


class NoticeListeners:
    """Keeps one listener per app key of ``notice_accounts()`` running until ``stop``."""

    def __init__(self, *, accounts_seconds: float | None = None, reread_seconds: float | None = None) -> None:
        from .feeds import setting

        self.accounts_seconds = accounts_seconds or float(setting("REALTIME_NOTICE_ACCOUNTS_SECONDS"))
        self.reread_seconds = reread_seconds or float(setting("REALTIME_INTEREST_SECONDS"))
        self.groups: dict[tuple[str, str, str], KeyGroup] = {}

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.refresh()
                except Exception:  # noqa: BLE001 - the database may be away for a moment
                    logger.exception("the notice listeners could not read the accounts")
                finally:
                    close_old_connections()
                stop.wait(self.accounts_seconds)
        finally:
            for group in self.groups.values():
                group.stop.set()
            for group in self.groups.values():
                if group.thread is not None:
                    group.thread.join(timeout=5)

    def refresh(self) -> None:
        """Read the accounts again: start listeners for new keys, update HTS IDs, stop gone keys."""
        seen: dict[tuple[str, str, str], KeyGroup] = {}
        credentials = {}
        for account in notice_accounts():
            group_key = (account.app_key_id, account.environment, account.broker)
            group = seen.setdefault(group_key, KeyGroup(*group_key))
            group.account_ids["".join(ch for ch in account.account_no if ch.isdigit())] = account.pk
            group.hts_ids.add(account.hts_id.strip())
            if group_key not in self.groups and group_key not in credentials:
                credentials[group_key] = account.credentials()
        for group_key, group in list(self.groups.items()):
            if group_key not in seen:
                group.stop.set()
                del self.groups[group_key]
        for group_key, fresh in seen.items():
            group = self.groups.get(group_key)
            if group is None:
                self.groups[group_key] = group = fresh
                if group.key_id in market_data_key_ids():
                    # KIS allows one session per key and the price feed holds it: polling serves these fills
                    logger.warning("an account uses the platform's market-data app key (%s); its execution "
                                   "notices are left to polling", group.key_id[:6])
                    continue
                self._start(group, credentials[group_key])
            else:
                group.account_ids, group.hts_ids = fresh.account_ids, fresh.hts_ids

    def _start(self, group: KeyGroup, credentials) -> None:
        from trading import connections

        from .feeds import backoff, ws_url
        from .kis_ws import issue_approval_key

        client = connections.client_for(group.broker, credentials)
        name = f"notices {group.broker} {group.key_id[:6]}"
        if group.broker == "kiwoom":
            group.stream = KiwoomStream(url=ws_url(group.environment, "kiwoom"), token=client._token,
                                        drop_token=lambda token: client.tokens.drop(client.token_key, token),
                                        wanted=group.wanted, on_data=group.on_data, name=name,
                                        reread_seconds=self.reread_seconds, backoff=backoff())
        else:
            group.stream = KisStream(url=ws_url(group.environment), approval=lambda: issue_approval_key(client),
                                     wanted=group.wanted, on_data=group.on_data, name=name,
                                     reread_seconds=self.reread_seconds, backoff=backoff())

        def run() -> None:
            try:
                group.stream.run(group.stop)  # type: ignore[union-attr]
            finally:
                close_old_connections()

        group.thread = threading.Thread(target=run, name=f"feed-notices-{group.key_id[:6]}", daemon=True)
        group.thread.start()


__all__ = ["NoticeListeners", "notice_accounts", "notice_fill_record", "notice_handle", "reconcile_nudge"]
