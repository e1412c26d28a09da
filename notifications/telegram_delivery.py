"""Sending a chat's outbox at Telegram's pace (the work of ``telegram_flush_chat``).

Telegram blocks a bot that floods: about one message a second to one chat and about 30 a second
overall. So:

- one worker per chat at a time (a lock in the cache: ``cache.add``, released by its holder);
- each chat waits ``TELEGRAM_CHAT_SECONDS_PER_MESSAGE`` after its previous message was answered
  (the time is kept in the cache, so the next flush of the chat, in any process, honours it);
- every send takes a slot of the global pace ``TELEGRAM_MESSAGES_PER_SECOND`` shared by all
  workers: the second is cut into that many slots and a slot is owned by whoever ``cache.add``-s
  it first (atomic in Redis and in locmem), so no one-second window ever holds more than the rate + 1;
- a message is claimed (queued -> sending, compare-and-set on the row) before it is sent: two
  workers never send it both;
- while a chat waits for its pace, its alerts pile up: queued alerts of the chat with the same
  ``coalesce_key`` are claimed together and sent as one message ("Fills: 12" and one line each),
  as many as fit in Telegram's 4096 characters (the rest go in the next one); merged rows become
  ``merged``;
- answers to commands go before alerts of the same chat;
- 429: the ``retry_after`` is waited out (in the worker when short, else the message is queued
  again for then); 5xx and network errors: queued again with back-off, ``failed`` after
  ``MAX_ATTEMPTS``; a permanent refusal (400, 403: the user blocked the bot) fails at once
  without retries, and a blocked chat's other queued messages with it; 401/404 (the bot's token
  or URL is wrong) fail nothing: the messages wait, and an error is logged.

A message whose worker died mid-send stays ``sending``; the sweep marks it failed after
``STUCK_MINUTES`` (it may have arrived: never sent again).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notifications.models.telegram import TelegramMessage
from notifications.outbox import fit_text, flush_schedule
from notifications.telegram import TEXT_LIMIT, TelegramClient, TelegramError, client_from_settings

logger = logging.getLogger("notifications.telegram")

State, Kind = TelegramMessage.State, TelegramMessage.Kind
LOCK_SECONDS = 90  # longer than one run (MAX_RUN_SECONDS + a send's waits and timeout)
MAX_RUN_SECONDS = 40.0  # then the flush enqueues itself again: other chats' tasks get a worker
MAX_ROUNDS = 5  # times the lock is taken again for messages queued while it was held
PACE_MARGIN = 0.05  # s added to the per-chat interval (clocks of several hosts, rounding)
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (2, 8, 30, 120)  # after the 1st, 2nd… temporary failure
INLINE_FLOOD_WAIT = 5.0  # a 429's retry_after up to this is waited out in the worker
MAX_FLOOD_WAITS = 3
STUCK_MINUTES = 10
MISCONFIGURED = frozenset({401, 404})  # Telegram's answers to a wrong token (Unauthorized / Not Found)
MISCONFIGURED_WAIT = 60.0
MERGE_SCAN = 200  # queued rows looked at for one merged message
ITEM_CHARS = 300
FILLS_KEY = "fills"
STUCK_ERROR = "interrupted while sending (it may have arrived): not sent again"

Sleep = Callable[[float], None]


@dataclass
class FlushResult:
    sent: int = 0
    merged: int = 0
    failed: int = 0
    busy: bool = False  # another worker holds the chat


@dataclass
class Claim:
    message: TelegramMessage
    merged_ids: list[int] = field(default_factory=list)


# -- the flush ---------------------------------------------------------------------------------
def chat_flush(*, chat_id: int, client: TelegramClient | None = None, sleep: Sleep = time.sleep) -> FlushResult:
    """Send ``chat_id``'s due messages in order at Telegram's pace; returns what happened."""
    result = FlushResult()
    if client is None and not getattr(settings, "TELEGRAM_BOT_TOKEN", ""):
        return result  # no bot configured here: the rows wait
    bot = client or client_from_settings()
    deadline = time.monotonic() + MAX_RUN_SECONDS
    try:
        for _round in range(MAX_ROUNDS):
            with chat_lock(chat_id) as held:
                if not held:
                    result.busy = True
                    return result
                go_on = _drain(chat_id, bot, result, deadline, sleep)
            # a message queued while we held the lock had its own flush turned away: look again
            if not go_on or not _due(chat_id).exists():
                break
        else:
            flush_schedule(chat_id=chat_id)  # still more: another turn, later
    finally:
        if client is None:
            bot.close()
    _schedule_later(chat_id)
    return result


def _drain(chat_id: int, bot: TelegramClient, result: FlushResult, deadline: float, sleep: Sleep) -> bool:
    """Send while messages are due; False when the chat must wait (flood, failing server, time up)."""
    while _due(chat_id).exists():
        if time.monotonic() > deadline:
            flush_schedule(chat_id=chat_id)
            return False
        chat_pace_wait(chat_id, sleep)
        cache.touch(_lock_key(chat_id), LOCK_SECONDS)
        claim = message_claim(chat_id=chat_id)
        if claim is None:
            return True
        if not _send(claim, bot, result, sleep):
            return False
    return True


def _send(claim: Claim, bot: TelegramClient, result: FlushResult, sleep: Sleep) -> bool:
    """Send one claimed message; False when the chat must stop for now."""
    message, floods = claim.message, 0
    while True:
        global_slot_wait(sleep)
        try:
            answer = bot.send_message(message.chat_id, message.text, reply_markup=message.reply_markup)
        except TelegramError as exc:
            chat_pace_mark(message.chat_id)
            if exc.retry_after is not None:
                floods += 1
                if exc.retry_after <= INLINE_FLOOD_WAIT and floods <= MAX_FLOOD_WAITS:
                    logger.info("telegram: flood wait %.0f s for message %s", exc.retry_after, message.pk)
                    sleep(exc.retry_after)
                    continue
                _requeue(message, delay=exc.retry_after, error=exc, count_attempt=False)
                return False
            if exc.status in MISCONFIGURED:
                # the bot's token or URL is wrong: no message can go, none is to blame; they wait for the fix
                logger.error("telegram: the Bot API refused the bot (%s): check TELEGRAM_BOT_TOKEN and "
                             "TELEGRAM_API_URL", exc.description)
                _requeue(message, delay=MISCONFIGURED_WAIT, error=exc, count_attempt=False)
                return False
            if exc.permanent:
                result.failed += _fail(message, exc)
                return not exc.blocked
            if message.attempts + 1 >= MAX_ATTEMPTS:
                result.failed += _fail(message, exc, attempts=message.attempts + 1)
                return True
            _requeue(message, delay=BACKOFF_SECONDS[min(message.attempts, len(BACKOFF_SECONDS) - 1)], error=exc)
            return False
        chat_pace_mark(message.chat_id)
        now = timezone.now()
        TelegramMessage.objects.filter(pk=message.pk).update(
            state=State.SENT, sent_at=now, attempts=message.attempts + 1,
            telegram_message_id=(answer or {}).get("message_id"), last_error="")
        if claim.merged_ids:
            TelegramMessage.objects.filter(pk__in=claim.merged_ids).update(sent_at=now)
        result.sent += 1
        result.merged += len(claim.merged_ids)
        return True


def _requeue(message: TelegramMessage, *, delay: float, error: TelegramError, count_attempt: bool = True) -> None:
    attempts = message.attempts + (1 if count_attempt else 0)
    TelegramMessage.objects.filter(pk=message.pk, state=State.SENDING).update(
        state=State.QUEUED, attempts=attempts, claimed_at=None, last_error=error.description[:300],
        not_before=timezone.now() + dt.timedelta(seconds=delay))
    logger.warning("telegram: message %s to be sent again in %.0f s (%s)", message.pk, delay, error.description)
    flush_schedule(chat_id=message.chat_id, countdown=delay)


def _fail(message: TelegramMessage, error: TelegramError, *, attempts: int | None = None) -> int:
    """Mark the message failed (a blocked chat: its queued ones too); how many rows failed."""
    text = error.description[:300]
    TelegramMessage.objects.filter(pk=message.pk).update(
        state=State.FAILED, attempts=attempts if attempts is not None else message.attempts + 1, last_error=text)
    failed = 1
    if error.blocked:
        # nothing reaches a chat that blocked the bot; unlinking it is the link service's call
        failed += TelegramMessage.objects.filter(chat_id=message.chat_id, state=State.QUEUED).update(
            state=State.FAILED, last_error=text)
    logger.warning("telegram: message %s failed for good (%s, %s rows)", message.pk, text, failed)
    return failed


def _schedule_later(chat_id: int) -> None:
    """Queued messages held for later (quiet hours, back-off): their flush at the earliest one."""
    later = (TelegramMessage.objects.filter(chat_id=chat_id, state=State.QUEUED, not_before__gt=timezone.now())
             .order_by("not_before").values_list("not_before", flat=True).first())
    if later is not None:
        flush_schedule(chat_id=chat_id, countdown=max(0.0, (later - timezone.now()).total_seconds()))


# -- the queue ---------------------------------------------------------------------------------
def _due(chat_id: int) -> QuerySet[TelegramMessage]:
    return TelegramMessage.objects.filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()),
                                          chat_id=chat_id, state=State.QUEUED)


def message_claim(*, chat_id: int) -> Claim | None:
    """Claim the chat's next due message (answers first, then in order) and, for a coalescing alert,
    its due peers; None when nothing is due or another worker claimed it first."""
    with transaction.atomic():
        head = (_due(chat_id).annotate(reply_first=Case(When(kind=Kind.REPLY, then=Value(0)), default=Value(1),
                                                        output_field=IntegerField()))
                .order_by("reply_first", "id").select_related("owner").first())
        if head is None:
            return None
        now = timezone.now()
        if not TelegramMessage.objects.filter(pk=head.pk, state=State.QUEUED).update(state=State.SENDING,
                                                                                     claimed_at=now):
            return None
        head.state, head.claimed_at = State.SENDING, now
        claim = Claim(head)
        if head.coalesce_key and head.kind != Kind.REPLY:
            _merge_peers(claim, now)
    return claim


def _merge_peers(claim: Claim, now: dt.datetime) -> None:
    head = claim.message
    peers = (_due(head.chat_id).filter(kind=head.kind, coalesce_key=head.coalesce_key).exclude(pk=head.pk)
             .order_by("id").only("pk", "text")[:MERGE_SCAN])
    items, room = [item_line(head.text)], TEXT_LIMIT - 100  # the header's room
    used = len(items[0]) + 1
    for peer in peers:
        line = item_line(peer.text)
        if used + len(line) + 1 > room:
            break
        if TelegramMessage.objects.filter(pk=peer.pk, state=State.QUEUED).update(state=State.MERGED, claimed_at=now):
            items.append(line)
            used += len(line) + 1
            claim.merged_ids.append(peer.pk)
    if claim.merged_ids:
        head.text = merged_text(head.coalesce_key, items, language=_language(head))
        head.coalesce_key = ""  # a merged message is never merged again (after a retry)
        head.save(update_fields=["text", "coalesce_key"])


def item_line(text: str) -> str:
    """One alert as a line of a merged message: its body (the title is in the header), no links."""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(("http://", "https://"))]
    line = " · ".join(lines[1:]) if len(lines) > 1 else (lines[0] if lines else "")
    return "• " + (line if len(line) <= ITEM_CHARS else line[: ITEM_CHARS - 1] + "…")


def merged_text(coalesce_key: str, items: list[str], *, language: str) -> str:
    with translation.override(language):
        if coalesce_key == FILLS_KEY:
            header = _("Fills: %(count)d") % {"count": len(items)}
        else:
            header = _("Alerts: %(count)d") % {"count": len(items)}
    return fit_text("\n".join([header, *items]))


def _language(message: TelegramMessage) -> str:
    owner = message.owner
    return getattr(owner, "language", "") or settings.LANGUAGE_CODE


# -- the pace ----------------------------------------------------------------------------------
def _lock_key(chat_id: int) -> str:
    return f"telegram:chat-lock:{chat_id}"


@contextmanager
def chat_lock(chat_id: int) -> Iterator[bool]:
    """Hold the chat for this worker (True) or learn another holds it (False)."""
    key, token = _lock_key(chat_id), uuid.uuid4().hex
    held = cache.add(key, token, timeout=LOCK_SECONDS)
    try:
        yield held
    finally:
        if held and cache.get(key) == token:
            cache.delete(key)


def chat_pace_wait(chat_id: int, sleep: Sleep = time.sleep) -> None:
    interval = float(getattr(settings, "TELEGRAM_CHAT_SECONDS_PER_MESSAGE", 1.0))
    last = cache.get(f"telegram:chat-last:{chat_id}")
    if last is not None and interval > 0:
        wait = min(float(last) + interval + PACE_MARGIN - time.time(), interval + PACE_MARGIN)
        if wait > 0:
            sleep(wait)


def chat_pace_mark(chat_id: int) -> None:
    """The chat's last request was answered now (the next one waits from here)."""
    interval = float(getattr(settings, "TELEGRAM_CHAT_SECONDS_PER_MESSAGE", 1.0))
    cache.set(f"telegram:chat-last:{chat_id}", time.time(), timeout=max(5, int(interval * 3) + 1))


def global_slot_wait(sleep: Sleep = time.sleep) -> None:
    """Take the next free slot of the global pace (every worker shares the cache's slots) and wait for it."""
    rate = float(getattr(settings, "TELEGRAM_MESSAGES_PER_SECOND", 25.0))
    if rate <= 0:
        return
    span = 1.0 / rate
    while True:
        now = time.time()
        first = int(now / span)
        for slot in range(first, first + int(rate * 5) + 1):
            if cache.add(f"telegram:slot:{slot}", 1, timeout=10):
                wait = slot * span - now
                if wait > 0:
                    sleep(wait)
                return
        sleep(1.0)  # five seconds of slots taken: look again


# -- the sweep ---------------------------------------------------------------------------------
def due_sweep() -> list[int]:
    """Fail messages stuck in ``sending`` (their worker died) and enqueue the flush of every chat with
    due messages (lost enqueues, the end of quiet hours or of a back-off). Returns those chats."""
    cutoff = timezone.now() - dt.timedelta(minutes=STUCK_MINUTES)
    stuck = TelegramMessage.objects.filter(state=State.SENDING, claimed_at__lt=cutoff).update(
        state=State.FAILED, last_error=STUCK_ERROR)
    if stuck:
        logger.warning("telegram: %s messages stuck while sending marked failed", stuck)
    chats = sorted(set(TelegramMessage.objects.filter(Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()),
                                                      state=State.QUEUED).values_list("chat_id", flat=True)))
    for chat_id in chats:
        flush_schedule(chat_id=chat_id)
    return chats


__all__ = ["Claim", "FlushResult", "chat_flush", "chat_lock", "due_sweep", "global_slot_wait", "item_line",
           "merged_text", "message_claim"]
