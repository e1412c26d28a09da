"""Reconciliation: make the ledger agree with the broker's day listing and balance.

For one account (``account_reconcile``), idempotently, whenever called (worker start, the beat
during the trading day, after the close, an ``unknown`` order, the admin's "reconcile now"):

1. ``submitting`` orders whose lease ran out become ``unknown`` (``services.orders_expire_leases``).
2. The day listing (``client.day_orders(day)``, every page) of today and of every day with an order
   still open or unresolved is read, and the balance. Broker calls happen outside any transaction;
   a broker error records itself on the account's ``Reconciliation`` row and decides nothing.
3. In one transaction holding the account's ``Reconciliation`` row (two reconciliations of one
   account never interleave):
   - an ``unknown`` order is matched to a listing row no order of ours has: same symbol, side,
     quantity and price, ordered within the submission window (the claim time to the lease's end,
     widened by ``ORDER_MATCH_SKEW_SECONDS`` for clock differences). The broker's number is adopted
     and the row applied. Not found: it is looked up again on the next run; only after
     ``ORDER_NOT_PLACED_MISSES`` listings without it **and** ``ORDER_NOT_PLACED_AFTER_SECONDS``
     since it became unknown (the listing lags a few seconds behind an acceptance) is it
     ``not_placed``;
   - every row of an order we know updates its fills (``trading.orders.fills``: counted once) and
     its state (``states.state_from_listing``; never backwards); a row with nothing new takes no
     lock and no write, the rows that change orders are applied together (a few inserts);
   - a row no order of ours can explain (an order placed in HTS/MTS) is adopted as ``external``,
     flagged, never cancelled (a run's all in a few inserts; more than ``EXTERNAL_EACH_UP_TO`` at
     once are announced by one ``orders.external`` event). A row that an order still being sent
     (``submitting``, lease not over) could explain waits for that order's answer; a cancel's own
     row (KIS and Kiwoom list the cancel as a row pointing to its original) is never an order;
   - positions are compared with the balance (``trading.orders.positions.positions_check``). When a
     difference shows, today's listing is read again: if its fills moved meanwhile, the comparison
     waits for the next run instead of raising a false alarm.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core import clock, events
from core.audit import Actor
from core.models import AuditEntry
from marketdata.calendars import KRX, SEOUL
from trading.brokers.base import Balance, BrokerClient, BrokerError, OrderRecord, OrderType
from trading.models import BrokerAccount
from trading.services import balance_snapshot
from trading.orders import positions, revise, services
from trading.orders.fills import FillReport
from trading.orders.models import Fill, FillSource, Order, OrderEvent, OrderSource, Reconciliation
from trading.orders.states import (
    CLOSED,
    OPEN,
    UNRESOLVED,
    State,
    can_transition,
    check_transition,
    state_from_listing,
)
from trading.orders.timeline import actor_label, order_move, order_note, order_payload

logger = logging.getLogger("trading.orders")

RECONCILER = Actor.system("reconciliation")
EXPIRY_GRACE = dt.timedelta(minutes=10)  # the listing settles after the close before "expired"
MAX_DAYS_BACK = 7  # older unresolved orders are left to the admins
EXTERNAL_FLAG = "placed outside the platform (HTS/MTS)"
EXTERNAL_EACH_UP_TO = 50  # external orders adopted at once with their events each; more get one for all
BULK_BATCH = 500  # rows an INSERT (SQLite allows 32,766 parameters a statement)
KNOWN_FIELDS = ("account_id", "owner_id", "broker_order_no", "state", "quantity", "filled_quantity",
                "cancel_requested_at", "revise_sent_at", "revise_quantity")


@dataclass
class Summary:
    listed: int = 0
    found: int = 0  # unknown orders found in the listing
    not_placed: int = 0
    external: int = 0
    fills: int = 0
    moved: int = 0
    mismatches: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_placed_misses() -> int:
    return int(services.setting("ORDER_NOT_PLACED_MISSES", 3))


def not_placed_after() -> dt.timedelta:
    return dt.timedelta(seconds=services.setting("ORDER_NOT_PLACED_AFTER_SECONDS", 20.0))


def match_skew() -> dt.timedelta:
    return dt.timedelta(seconds=services.setting("ORDER_MATCH_SKEW_SECONDS", 60.0))


# -- what a row is -------------------------------------------------------------------------------
def is_cancel_row(row: OrderRecord) -> bool:
    """KIS (cncl_yn Y) and Kiwoom list a cancel as a row of its own pointing to its original."""
    return row.cancelled and bool(row.original_order_no)


def row_time(row: OrderRecord, day: dt.date) -> dt.datetime | None:
    text = (row.ordered_at or "").strip()
    if len(text) < 6 or not text[:6].isdigit():
        return None
    at = dt.time(int(text[:2]), int(text[2:4]), int(text[4:6]))
    return dt.datetime.combine(row.order_day or day, at, SEOUL)


def matches(order: Order, row: OrderRecord, day: dt.date) -> bool:
    """Could ``row`` be the broker's record of ``order`` (sent, answer unknown)?"""
    if is_cancel_row(row) or row.original_order_no:
        return False
    if (row.symbol, str(row.side), row.quantity) != (order.symbol, order.side, order.quantity):
        return False
    if OrderType(order.order_type).needs_price and row.price != order.price:
        return False
    at = row_time(row, day)
    if at is None or order.submitted_at is None:
        return True
    end = max(t for t in (order.lease_until, order.unknown_since, order.submitted_at) if t is not None)
    return order.submitted_at - match_skew() <= at <= end + match_skew()


def day_over(day: dt.date, now: dt.datetime) -> bool:
    """Has the regular session of ``day`` ended (so a day order still open has expired)?"""
    local = now.astimezone(SEOUL)
    if day != local.date():
        return day < local.date()
    if not KRX.is_trading_day(day):
        return False
    return local >= KRX.session(day).close + EXPIRY_GRACE


# -- applying ------------------------------------------------------------------------------------
def _apply_row(order: Order, row: OrderRecord, day: dt.date, now: dt.datetime, summary: Summary) -> None:
    """Fills first (counted once), then the state the row shows, if the table allows it."""
    if row.filled_quantity > order.filled_quantity:
        if services.order_fill_record(order_id=order.pk, report=_report(row), actor=RECONCILER) is not None:
            summary.fills += 1
    order = Order.objects.select_for_update().select_related("owner").get(pk=order.pk)
    target = _listed(order, row, day, now)
    if target == order.state or not can_transition(order.state, target):
        return
    fields: tuple[str, ...] = ()
    if target in (State.CANCELLED, State.EXPIRED):
        order.cancelled_quantity = order.quantity - order.filled_quantity
        fields = ("cancelled_quantity",)
    if target == State.REJECTED:
        order.reject_code, order.reject_reason = "listing", "the broker's listing shows it rejected"
        fields = ("reject_code", "reject_reason")
    was_unresolved = order.state in UNRESOLVED
    order_move(order, target, actor=RECONCILER, code="listing", why="as the broker's listing shows",
               fields=fields, now=now)
    summary.moved += 1
    if was_unresolved and order.cancel_requested_at and target in (State.ACCEPTED, State.PARTIALLY_FILLED):
        services.request_cancel(order, actor=services.CANCELLER, now=now)


def _found(order: Order, row: OrderRecord, now: dt.datetime) -> None:
    """An unknown order found in the listing: adopt the broker's numbers."""
    order.broker_order_no, order.broker_org_no = row.order_no, row.org_no
    order.missed_lookups = 0
    order.save(update_fields=["broker_order_no", "broker_org_no", "missed_lookups", "updated_at"])
    order_note(order, actor=RECONCILER, code="found", now=now,
               why=f"found in the broker's listing as order {row.order_no}")


def _missed(order: Order, now: dt.datetime, summary: Summary) -> None:
    order.missed_lookups += 1
    since = order.unknown_since or order.submitted_at or now
    if order.missed_lookups >= not_placed_misses() and now - since >= not_placed_after():
        order_move(order, State.NOT_PLACED, actor=RECONCILER, code="absent",
                   why=f"absent from {order.missed_lookups} listings of the broker",
                   fields=("missed_lookups",), now=now)
        summary.not_placed += 1
        return
    order.save(update_fields=["missed_lookups", "updated_at"])


@dataclass
class _Step:
    """One timeline entry of an order adopted in bulk, written once the order has its id."""

    order: Order
    from_state: str
    to_state: str
    code: str
    why: str
    audit: tuple[str, dict[str, Any], dict[str, Any]] | None  # action, before, after
    event: str  # published as this (the payload as it was then, its id filled in), or ""
    payload: dict[str, Any]


def _step(order: Order, before: str, *, code: str, why: str, audit: tuple | None, event: str,
          announce: bool) -> _Step:
    """``announce``: its event is published (the payload taken now)."""
    return _Step(order, before, order.state, code, why[:300], audit, event if announce else "",
                 order_payload(order) if announce else {})


def _move(order: Order, target: State, *, code: str, why: str, now: dt.datetime, announce: bool) -> _Step:
    """``timeline.order_move`` in memory: its rows are written with the other orders'."""
    before = order.state
    check_transition(before, target)
    order.state = target
    if target in CLOSED:
        order.closed_at = now
    return _step(order, before, code=code, why=why, event=f"order.{target}", announce=announce,
                 audit=(f"order.{target}", {"state": before}, {"state": str(target)}))


def _report(row: OrderRecord) -> FillReport:
    return FillReport(order_no=row.order_no, cumulative_quantity=row.filled_quantity,
                      cumulative_amount=row.filled_amount or None, cumulative_average=row.average_price or None)


def _settle(order: Order, row: OrderRecord, day: dt.date, now: dt.datetime, rules: dict[str, Any],
            announce: bool) -> tuple[list[_Step], Fill | None, bool]:
    """``_apply_row`` in memory, for ``order`` locked (or new) in the caller's transaction: the fill
    ``row`` adds (counted once: ``positions.fill_prepare``), then the state the row shows if the
    table allows it. Its steps, its new fill, and whether a cancel asked while the order was
    unresolved goes out now (``services.request_cancel``, once the order is written)."""
    steps: list[_Step] = []
    fill = None
    if row.filled_quantity > order.filled_quantity:
        if order.symbol not in rules:
            rules[order.symbol] = positions.cost_rules(order.symbol)
        prepared = positions.fill_prepare(order, _report(row), source=FillSource.LISTING, now=now,
                                          rules=rules[order.symbol])
        if prepared is None:
            if row.filled_quantity > order.quantity and not order.flag:
                order.flag = positions.OVERFILL_FLAG
        else:
            fill, capped = prepared
            _, target, why = positions.fill_counted(order, fill, capped, row.order_no)
            steps.append(_move(order, target, code="fill", why=why, now=now, announce=announce)
                         if target != order.state else
                         _step(order, order.state, code="fill", why=why, audit=None, event="order.fill",
                               announce=announce))
    target = _listed(order, row, day, now)
    if target == order.state or not can_transition(order.state, target):
        return steps, fill, False
    if target in (State.CANCELLED, State.EXPIRED):
        order.cancelled_quantity = order.quantity - order.filled_quantity
    if target == State.REJECTED:
        order.reject_code, order.reject_reason = "listing", "the broker's listing shows it rejected"
    was_unresolved = order.state in UNRESOLVED
    steps.append(_move(order, target, code="listing", why="as the broker's listing shows", now=now,
                       announce=announce))
    cancel = was_unresolved and order.cancel_requested_at is not None and target in (State.ACCEPTED,
                                                                                     State.PARTIALLY_FILLED)
    return steps, fill, cancel


def _external(account: BrokerAccount, row: OrderRecord, day: dt.date, now: dt.datetime,
              rules: dict[str, Any], announce: bool) -> tuple[Order, list[_Step], Fill | None]:
    """An order the platform did not place, unsaved, as the listing shows it: accepted, then
    settled (``_settle``); with its timeline (events to publish when ``announce``) and its fill."""
    priced = row.price > 0
    order = Order(
        owner_id=account.owner_id, account=account, source=OrderSource.EXTERNAL, external=True, symbol=row.symbol,
        side=str(row.side), quantity=row.quantity, order_type=OrderType.LIMIT if priced else OrderType.MARKET,
        price=row.price if priced else None, state=State.ACCEPTED, broker_order_no=row.order_no,
        broker_org_no=row.org_no, order_day=row.order_day or day, submitted_at=row_time(row, day) or now,
        acknowledged_at=now, flag=EXTERNAL_FLAG)
    steps = [_step(order, "", code="external", why=EXTERNAL_FLAG, event="order.external", announce=announce, audit=(
        "order.adopt_external", {}, {"broker_order_no": row.order_no, "symbol": row.symbol, "side": str(row.side),
                                     "quantity": f"{row.quantity.normalize():f}"}))]
    settled, fill, _ = _settle(order, row, day, now, rules, announce)
    return order, steps + settled, fill


def _audit_entry(step: _Step, owner: Any) -> AuditEntry:
    """``core.audit.audit_record``'s row, unsaved for a bulk insert (the order described as it was
    at that step)."""
    action, before, after = step.audit
    order, final = step.order, step.order.state
    order.state = step.to_state
    described = str(order)[:200]
    order.state = final
    return AuditEntry(owner=owner if getattr(owner, "pk", None) else None, actor=None, actor_kind=RECONCILER.kind,
                      actor_label=RECONCILER.label[:150], action=action, object_type=Order._meta.label_lower,
                      object_id=str(order.pk), object_repr=described, before=before, after=after,
                      reason=step.why[:500], door=RECONCILER.door, ip_address=RECONCILER.ip)


def _write(account: BrokerAccount, steps: list[_Step], fills: list[Fill], now: dt.datetime,
           summary: Summary) -> None:
    """The timeline and audit rows of ``steps`` and ``fills`` with their positions, a few inserts
    for them all (the orders already have their ids)."""
    label = actor_label(RECONCILER)[:150]
    OrderEvent.objects.bulk_create([OrderEvent(order=s.order, from_state=s.from_state, to_state=s.to_state,
                                               code=s.code, why=s.why, actor_label=label, at=now) for s in steps],
                                   batch_size=BULK_BATCH)
    AuditEntry.objects.bulk_create([_audit_entry(s, account.owner) for s in steps if s.audit],
                                   batch_size=BULK_BATCH)
    Fill.objects.bulk_create(fills, batch_size=BULK_BATCH)
    positions.positions_apply_fills(fills)
    summary.fills += len(fills)
    summary.moved += sum(1 for s in steps if s.code == "listing")


def _adopt_externals(account: BrokerAccount, rows: list[OrderRecord], day: dt.date, now: dt.datetime,
                     summary: Summary) -> None:
    """Orders the platform did not place (HTS/MTS), recorded as the listing shows them, flagged,
    never cancelled here. Written in bulk, a few inserts per table for them all (one by one, 5,000
    took 45 s), with the rows one by one would write: the order, its timeline and audit rows, its
    fill (counted once: a new order has none yet) and its position."""
    if not rows:
        return
    rules: dict[str, Any] = {}
    announce = len(rows) <= EXTERNAL_EACH_UP_TO
    planned = [_external(account, row, day, now, rules, announce) for row in rows]
    Order.objects.bulk_create([order for order, _, _ in planned], batch_size=BULK_BATCH)
    steps = [step for _, order_steps, _ in planned for step in order_steps]
    _write(account, steps, [fill for _, _, fill in planned if fill is not None], now, summary)
    summary.external += len(planned)
    _announce(account, [order for order, _, _ in planned], steps, each=announce)


def _announce(account: BrokerAccount, adopted: list[Order], steps: list[_Step], *, each: bool) -> None:
    """Each adopted order's events and a warning for the admins; more than ``EXTERNAL_EACH_UP_TO``
    at once get one event and one warning for them all (no browser wants thousands of messages)."""
    if not each:
        first, last = adopted[0].broker_order_no, adopted[-1].broker_order_no
        events.publish(user_id=account.owner_id, event="orders.external",
                       payload={"account_id": account.pk, "count": len(adopted), "first": first, "last": last})
        logger.warning("account %s: %d orders placed outside the platform adopted as external (%s to %s)",
                       account.pk, len(adopted), first, last)
        return
    for step in (s for s in steps if s.event):
        events.publish(user_id=account.owner_id, event=step.event, payload={**step.payload, "id": step.order.pk})
    for order in adopted:
        logger.warning("account %s: order %s placed outside the platform adopted as external", account.pk,
                       order.broker_order_no)


SETTLED_FIELDS = ("state", "closed_at", "filled_quantity", "filled_amount", "average_fill_price", "cancelled_quantity",
                  "broker_order_no", "flag", "reject_code", "reject_reason", "updated_at")


def _apply_rows(account: BrokerAccount, changed: list[tuple[Order, OrderRecord]], day: dt.date,
                now: dt.datetime, summary: Summary) -> None:
    """Rows that change orders of ours (``_unchanged`` says so), applied as ``_apply_row`` applies
    each, for them all at once: the orders locked in one go (by id), settled in memory
    (``_settle``) and saved, their timeline, audit rows and fills a few inserts, each position
    saved once; an event per step as always. A fill whose key is taken
    (nothing counted should have it) sends the rows back through ``_apply_row`` one by one."""
    rows = {order.pk: row for order, row in changed}
    ids = sorted(rows)
    locked = [order for start in range(0, len(ids), BULK_BATCH)
              for order in Order.objects.select_for_update().select_related("owner")
              .filter(pk__in=ids[start:start + BULK_BATCH]).order_by("pk")]
    rules: dict[str, Any] = {}
    steps, fills, cancels = [], [], []
    for order in locked:
        order_steps, fill, cancel = _settle(order, rows[order.pk], day, now, rules, announce=True)
        steps += order_steps
        fills += [fill] if fill is not None else []
        cancels += [order] if cancel else []
    counted = Summary()
    try:
        with transaction.atomic():
            for order in locked:  # an UPDATE each: Django's bulk_update (CASE per field) is slower
                order.save(update_fields=SETTLED_FIELDS)
            _write(account, steps, fills, now, counted)
    except IntegrityError:
        logger.error("account %s: a fill of the listing was already counted; applying its rows one by one",
                     account.pk)
        for order, row in changed:
            _apply_row(order, row, day, now, summary)
        return
    summary.fills += counted.fills
    summary.moved += counted.moved
    for step in (s for s in steps if s.event):
        events.publish(user_id=step.order.owner_id, event=step.event, payload=step.payload)
    for order in cancels:
        services.request_cancel(order, actor=services.CANCELLER, now=now)


def _apply_day(account: BrokerAccount, day: dt.date, rows: list[OrderRecord], now: dt.datetime,
               summary: Summary) -> None:
    # what a row with nothing new is compared with (a busy day's thousands of orders); the rest
    # of an order is read when a row changes it
    known = {o.broker_order_no: o for o in Order.objects.filter(account=account, order_day=day)
             .exclude(broker_order_no="").only(*KNOWN_FIELDS)}
    strangers = [r for r in rows if r.order_no and r.order_no not in known and not is_cancel_row(r)]
    unresolved = list(Order.objects.select_for_update().select_related("owner")
                      .filter(account=account, order_day=day, state__in=UNRESOLVED).order_by("submitted_at", "pk"))
    for order in (o for o in unresolved if o.state == State.UNKNOWN):
        row = next((r for r in strangers if matches(order, r, day)), None)
        if row is None:
            _missed(order, now, summary)
            continue
        strangers.remove(row)
        _found(order, row, now)
        known[row.order_no] = order
        summary.found += 1
    sending = [o for o in unresolved if o.state == State.SUBMITTING]
    outside: dict[str, OrderRecord] = {}
    for row in strangers:
        original = known.get(row.original_order_no) if row.original_order_no else None
        if original is not None and (replacement := revise.replacement_adopt(original, row, now)) is not None:
            known[row.order_no] = replacement  # a revision whose answer was lost
            summary.found += 1
        elif row.quantity > 0 and not any(matches(o, row, day) for o in sending):
            outside[row.order_no] = row
    _adopt_externals(account, list(outside.values()), day, now, summary)  # complete: not applied below
    revised = {r.original_order_no for r in rows if r.original_order_no and not is_cancel_row(r)}
    changed = []
    for row in rows:
        order = known.get(row.order_no)
        if order is not None and order.revise_sent_at is not None and row.order_no not in revised:
            revise.order_revise_settle_absent(order, row, now)
        if order is not None and not is_cancel_row(row) and not _unchanged(order, row, day, now):
            changed.append((order, row))
    if changed:
        _apply_rows(account, changed, day, now, summary)


def _unchanged(order: Order, row: OrderRecord, day: dt.date, now: dt.datetime) -> bool:
    """Nothing in ``row`` the ledger does not have (most rows of a busy day: no lock, no write)."""
    if row.filled_quantity > order.filled_quantity:
        return False
    target = _listed(order, row, day, now)
    return target == order.state or not can_transition(order.state, target)


def _listed(order: Order, row: OrderRecord, day: dt.date, now: dt.datetime) -> State:
    return state_from_listing(order.state, quantity=order.quantity, filled=order.filled_quantity,
                              remaining=row.remaining_quantity, rejected=row.rejected_quantity,
                              day_over=day_over(day, now), cancel_asked=order.cancel_requested_at is not None)


# -- the run -------------------------------------------------------------------------------------
def days_to_list(account: BrokerAccount, now: dt.datetime) -> list[dt.date]:
    """Today (Seoul) and every recent day with an order of the account still open or unresolved."""
    today = now.astimezone(SEOUL).date()
    open_days = (Order.objects.filter(account=account, state__in=OPEN | UNRESOLVED,
                                      order_day__gte=today - dt.timedelta(days=MAX_DAYS_BACK))
                 .values_list("order_day", flat=True).distinct())
    return sorted({today, *(day for day in open_days if day is not None)})


def _filled(rows: list[OrderRecord]) -> dict[str, Decimal]:
    return {r.order_no: r.filled_quantity for r in rows}


def _differs(account: BrokerAccount, balance: Balance) -> bool:
    """Does any quantity of the ledger differ from the balance (read only)?"""
    from trading.orders.models import Position

    ours = {s: q for s, q in Position.objects.filter(account=account).values_list("symbol", "quantity") if q}
    theirs = {p.symbol: p.quantity for p in balance.positions if p.quantity}
    return ours != theirs


def account_reconcile(*, account: BrokerAccount, client: BrokerClient | None = None,
                      with_balance: bool = True) -> Summary:
    """Reconcile ``account`` with its broker (module docstring). Safe to run any number of times."""
    from trading import connections

    summary = Summary()
    now = clock.now()
    services.orders_expire_leases(account_id=account.pk, now=now)
    days = days_to_list(account, now)
    Reconciliation.objects.get_or_create(account=account)
    Reconciliation.objects.filter(account=account).update(started_at=now)
    try:
        client = client or connections.broker_client(account)
        listings = {day: client.day_orders(day) for day in days}
        read_at = timezone.now()  # the balance's time for the pre-trade checks (the ledger's wall clock)
        balance = client.balance() if with_balance else None
        with transaction.atomic():
            first = Reconciliation.objects.select_for_update().get(account=account).opening_adopted_at is None
            for day, rows in listings.items():
                summary.listed += len(rows)
                _apply_day(account, day, rows, now, summary)
        if balance is not None and not first and _differs(account, balance):
            today = max(days)
            if _filled(client.day_orders(today)) != _filled(listings[today]):
                logger.info("account %s: fills moved while the balance was read; comparing next time", account.pk)
                balance = None
    except BrokerError as exc:
        summary.error = exc.message[:300]
        Reconciliation.objects.filter(account=account).update(error=summary.error, error_at=now)
        logger.warning("account %s: reconciliation stopped: %s (%s)", account.pk, exc.message, exc.code)
        return summary
    with transaction.atomic():
        state = Reconciliation.objects.select_for_update().get(account=account)
        if balance is not None:
            summary.mismatches = positions.positions_check(account=account, balance=balance,
                                                           first=state.opening_adopted_at is None,
                                                           actor=RECONCILER, now=now)
            state.opening_adopted_at = state.opening_adopted_at or now
            state.mismatches = summary.mismatches
            if not account.is_paper:  # the order checks' buying power (``place.balance_refresh``)
                BrokerAccount.objects.filter(pk=account.pk).update(balance_snapshot=balance_snapshot(balance),
                                                                   balance_at=read_at)
        state.finished_at, state.error, state.orders_listed = clock.now(), "", summary.listed
        state.external_adopted += summary.external
        state.save()
    return summary
