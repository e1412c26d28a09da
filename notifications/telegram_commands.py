"""The bot's commands for a linked chat: what each answers, and the actions waiting for a button.

Reads go through the owner-scoped selectors of ``trading``; actions go through the same services as
the pages (``trading.live.services``, ``trading.killswitch``) with ``Actor.of_user(user,
door="telegram")``, so the audit rows show the Telegram door. /pause, /resume and /kill act only
after their confirmation button: a ``TelegramPendingAction`` (single use, ``PENDING_MINUTES``
long) whose token travels in the button's ``callback_data``.

``command_run(link=..., command=..., args=...)`` and ``action_confirm(link=..., token=...)``
return a ``Reply`` (text and an optional inline keyboard); the caller sends it. They run inside
``translation.override(user.language)``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core import clock
from core.audit import Actor
from core.errors import ApplicationError, NotFound, PermissionDenied
from notifications.models.telegram import TelegramLink, TelegramPendingAction
from trading.templatetags.trading_format import krw, quantity, signed_krw

PENDING_MINUTES = 5
LIST_LIMIT = 20
# a button's callback_data: "<what>:<token>"; "o" (kill only) also cancels the open orders
CONFIRM, CONFIRM_CANCELLING_ORDERS, CANCEL = "c", "o", "x"
PAUSE, RESUME, KILL = "pause", "resume", "kill"


@dataclass(frozen=True)
class Reply:
    text: str
    reply_markup: dict | None = None


def _no_resumable() -> str:
    return _("No paused or halted deployment to resume.")


def _actor(user: Any) -> Actor:
    return Actor.of_user(user, door="telegram")


def _web(path: str) -> str:
    return getattr(settings, "SITE_URL", "").rstrip("/") + path


def _mfa_enabled(user: Any) -> bool:
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user)


# -- reads ----------------------------------------------------------------------------------------
def help_text() -> str:
    return "\n".join([
        _("Commands:"),
        _("/status - your deployments and broker accounts"),
        _("/positions - what you hold"),
        _("/pnl - profit and loss today and this week"),
        _("/orders - open orders"),
        _("/pause [id|all] - pause a deployment or all (asks for confirmation)"),
        _("/resume [id|all] - resume a deployment or all (asks for confirmation)"),
        _("/kill - pull your kill switch: no new orders (asks for confirmation)"),
        _("/unlink - unlink this chat from your account"),
        _("/help - this list"),
    ])


def status_text(user: Any) -> str:
    from trading.killswitch import kill_switch_state
    from trading.live import selectors as live_selectors
    from trading.live.overview import KIND_LABELS, money_kind
    from trading.selectors import broker_account_list

    lines = [_("Deployments:")]
    deployments = list(live_selectors.deployment_list(user=user).exclude(state="stopped").order_by("pk"))
    for deployment in deployments[:LIST_LIMIT]:
        lines.append(_("#{id} {name}: {state} ({kind})").format(
            id=deployment.pk, name=deployment.name, state=deployment.get_state_display(),
            kind=KIND_LABELS[money_kind(deployment)]))
        if deployment.state_reason:
            lines.append("   " + deployment.state_reason)
    if not deployments:
        lines.append(_("none (stopped ones are not listed)"))
    lines += ["", _("Broker accounts:")]
    accounts = list(broker_account_list(user=user))
    for account in accounts:
        lines.append(_("{nickname}: {broker}, {status}").format(
            nickname=account.nickname, broker=account.get_broker_display(), status=account.get_status_display()))
    if not accounts:
        lines.append(_("none"))
    switches = kill_switch_state(user=user)
    if switches["user_on"] or switches["global_on"] or switches["accounts_on"]:
        lines += ["", _("Kill switch ON: no new orders are placed.")]
    return "\n".join(lines)


def positions_text(user: Any) -> str:
    from marketdata.selectors import instrument_names
    from trading.orders.selectors import position_list

    positions = [p for p in position_list(user=user) if p.quantity > 0 or p.mismatch]
    if not positions:
        return _("You hold no positions.")
    names = instrument_names(codes=[p.symbol for p in positions])
    lines = [_("Positions:")]
    for position in positions[:LIST_LIMIT]:
        line = _("{symbol} {name}: {quantity} shares, average {average} KRW ({account})").format(
            symbol=position.symbol, name=names.get(position.symbol, ""), quantity=quantity(position.quantity),
            average=krw(position.average_cost), account=position.account.nickname)
        if position.mismatch:
            line += " " + _("[differs from the broker]")
        lines.append(line)
    if len(positions) > LIST_LIMIT:
        lines.append(_("… and {count} more on the website.").format(count=len(positions) - LIST_LIMIT))
    return "\n".join(lines)


def orders_text(user: Any) -> str:
    from trading.orders.selectors import order_list
    from trading.orders.states import OPEN, UNRESOLVED

    states = sorted(str(state) for state in OPEN | UNRESOLVED | {"new"})
    orders = list(order_list(user=user, states=states)[:LIST_LIMIT + 1])
    if not orders:
        return _("You have no open orders.")
    lines = [_("Open orders:")]
    for order in orders[:LIST_LIMIT]:
        price = _("market") if order.price is None else _("{price} KRW").format(price=krw(order.price))
        lines.append(_("#{id} {side} {symbol} {quantity} at {price}: {state}, filled {filled} ({account})").format(
            id=order.pk, side=order.get_side_display(), symbol=order.symbol, quantity=quantity(order.quantity),
            price=price, state=order.get_state_display(), filled=quantity(order.filled_quantity),
            account=order.account.nickname))
    if len(orders) > LIST_LIMIT:
        lines.append(_("More on the website."))
    return "\n".join(lines)


def pnl_figures(user: Any, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per active deployment: its bucket's equity now (``trading.live.summary.buckets_equity``) less
    its equity at the last close before today and before this week (``DeploymentDay``; the capital
    when it has none): ``{"deployment", "today", "week"}``."""
    from marketdata.calendars import SEOUL
    from trading.live import selectors as live_selectors
    from trading.live.models import DeploymentDay
    from trading.live.summary import buckets_equity

    now = now or clock.now()
    today = now.astimezone(SEOUL).date()
    monday = today - dt.timedelta(days=today.weekday())
    deployments = list(live_selectors.deployment_list(user=user).filter(
        state__in=("running", "paused", "halted"), replay=False).order_by("pk"))
    if not deployments:
        return []
    equity = buckets_equity(deployments=deployments, now=now)
    days: dict[int, list[tuple[dt.date, Decimal]]] = {}
    for deployment_id, day, value in (DeploymentDay.objects.filter(deployment__in=deployments, day__lt=today)
                                      .order_by("day").values_list("deployment_id", "day", "equity")):
        days.setdefault(deployment_id, []).append((day, value))

    def base(deployment: Any, before: dt.date) -> Decimal:
        earlier = [value for day, value in days.get(deployment.pk, []) if day < before]
        return earlier[-1] if earlier else deployment.capital

    return [{"deployment": d, "today": equity[d.pk] - base(d, today), "week": equity[d.pk] - base(d, monday)}
            for d in deployments]


def pnl_text(user: Any) -> str:
    figures = pnl_figures(user)
    if not figures:
        return _("No active deployment: no P&L to show.")
    lines = [_("P&L (KRW): today / this week")]
    for row in figures:
        lines.append(_("#{id} {name}: {today} / {week}").format(
            id=row["deployment"].pk, name=row["deployment"].name, today=signed_krw(row["today"]),
            week=signed_krw(row["week"])))
    total_today = sum((row["today"] for row in figures), Decimal(0))
    total_week = sum((row["week"] for row in figures), Decimal(0))
    lines.append(_("Total: {today} / {week}").format(today=signed_krw(total_today), week=signed_krw(total_week)))
    return "\n".join(lines)


# -- actions waiting for their button ------------------------------------------------------------
def _pending(user: Any, chat_id: int, action: str, target_id: int | None) -> TelegramPendingAction:
    return TelegramPendingAction.objects.create(
        owner=user, chat_id=chat_id, action=action, target_id=target_id, token=secrets.token_urlsafe(16),
        expires_at=timezone.now() + dt.timedelta(minutes=PENDING_MINUTES))


def _keyboard(*buttons: tuple[str, str]) -> dict:
    return {"inline_keyboard": [[{"text": text, "callback_data": data} for text, data in buttons]]}


def _ask(user: Any, chat_id: int, action: str, target_id: int | None, question: str, confirm: str) -> Reply:
    pending = _pending(user, chat_id, action, target_id)
    question += "\n" + _("This button works for {minutes} minutes.").format(minutes=PENDING_MINUTES)
    return Reply(question, _keyboard((confirm, f"{CONFIRM}:{pending.token}"),
                                     (_("Cancel"), f"{CANCEL}:{pending.token}")))


def _web_confirm_text(deployment: Any) -> str:
    link = _web(reverse("trading:deployment_detail", args=[deployment.pk]))
    return _("#{id} {name} trades real money and your account has 2FA: resume it in the web app, where your "
             "second factor is asked: {link}").format(id=deployment.pk, name=deployment.name, link=link)


def _target(user: Any, args: list[str], states: tuple[str, ...], verb: str, none: str) -> Any:
    """``all``, a deployment of the user's, or a Reply asking which one."""
    from trading.live import selectors as live_selectors

    candidates = list(live_selectors.deployment_list(user=user).filter(state__in=states).order_by("pk"))
    if args and args[0].lower() in ("all", "전체"):
        return "all" if candidates else Reply(none)
    if args:
        from core.limits import MAX_ID

        given = args[0].lstrip("#")
        try:
            if not given.isdigit() or not 0 < int(given) <= MAX_ID:  # never a 64-bit overflow in the query
                raise NotFound("")
            return live_selectors.deployment_get(user=user, pk=int(given))
        except NotFound:
            return Reply(_("No such deployment: {id}.").format(id=args[0][:20]))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return Reply(none)
    lines = [_("Which one? Send /{verb} <id> or /{verb} all:").format(verb=verb)]
    lines += [f"#{d.pk} {d.name}" for d in candidates[:LIST_LIMIT]]
    return Reply("\n".join(lines))


def pause_ask(user: Any, chat_id: int, args: list[str]) -> Reply:
    target = _target(user, args, ("running",), "pause", _("No running deployment to pause."))
    if isinstance(target, Reply):
        return target
    if target == "all":
        return _ask(user, chat_id, PAUSE, None, _("Pause all your running deployments?"), _("Pause all"))
    if target.state != "running":
        return Reply(_("Only a running deployment can be paused."))
    return _ask(user, chat_id, PAUSE, target.pk, _("Pause #{id} {name}?").format(id=target.pk, name=target.name),
                _("Pause"))


def resume_ask(user: Any, chat_id: int, args: list[str]) -> Reply:
    target = _target(user, args, ("paused", "halted"), "resume", _no_resumable())
    if isinstance(target, Reply):
        return target
    if target == "all":
        return _ask(user, chat_id, RESUME, None, _("Resume all your paused or halted deployments?"),
                    _("Resume all"))
    if target.state not in ("paused", "halted"):
        return Reply(_("Only a paused or halted deployment can be resumed."))
    if target.real_money and _mfa_enabled(user):
        return Reply(_web_confirm_text(target))
    question = _("Resume #{id} {name}?").format(id=target.pk, name=target.name)
    if target.real_money:
        question += "\n" + _("It trades real money: confirming places real orders.")
    return _ask(user, chat_id, RESUME, target.pk, question, _("Resume"))


def kill_ask(user: Any, chat_id: int) -> Reply:
    pending = _pending(user, chat_id, KILL, None)
    text = "\n".join([_("Pull your kill switch? No new order of yours is placed or sent until you release it "
                        "on the website."),
                      _("This button works for {minutes} minutes.").format(minutes=PENDING_MINUTES)])
    return Reply(text, {"inline_keyboard": [
        [{"text": _("Pull the kill switch"), "callback_data": f"{CONFIRM}:{pending.token}"}],
        [{"text": _("Pull it and cancel open orders"), "callback_data": f"{CONFIRM_CANCELLING_ORDERS}:{pending.token}"}],
        [{"text": _("Cancel"), "callback_data": f"{CANCEL}:{pending.token}"}]]})


def _claim(user: Any, chat_id: int, token: str) -> TelegramPendingAction | None:
    """The pending action of this token, this user and chat, marked used; None when unknown, used
    or expired (or another user's: a token is only good in the chat it was asked in)."""
    now = timezone.now()
    with transaction.atomic():
        pending = (TelegramPendingAction.objects.select_for_update()
                   .filter(token=token, owner=user, chat_id=chat_id, used_at__isnull=True, expires_at__gt=now).first())
        if pending is not None:
            pending.used_at = now
            pending.save(update_fields=["used_at"])
    return pending


def _stale() -> Reply:
    return Reply(_("This confirmation has expired or was already used. Send the command again."))


def button_press(*, link: TelegramLink, data: str) -> Reply | None:
    """The answer to a press on one of our buttons (``callback_data`` ``data``) in the linked chat;
    None for data that is not ours. A confirmation acts once; a stale or reused one does nothing."""
    what, _sep, token = data.partition(":")
    if not token or what not in (CONFIRM, CONFIRM_CANCELLING_ORDERS, CANCEL):
        return None
    user = link.owner
    pending = _claim(user, link.chat_id, token)
    if pending is None:
        return _stale()
    if what == CANCEL:
        return Reply(_("Cancelled: nothing was changed."))
    try:
        if pending.action == PAUSE:
            return _pause_run(user, pending.target_id)
        if pending.action == RESUME:
            return _resume_run(user, pending.target_id)
        if pending.action == KILL:
            return _kill_run(user, cancel_open_orders=what == CONFIRM_CANCELLING_ORDERS)
    except ApplicationError as refused:
        return Reply(str(refused.message))
    return _stale()


def _pause_run(user: Any, target_id: int | None) -> Reply:
    from trading.live import selectors as live_selectors, services

    reason = _("Paused from Telegram")
    if target_id is None:
        count = services.deployments_pause_all(actor=_actor(user), user=user, code="telegram", reason=reason)
        return Reply(_("Paused {count} deployment(s).").format(count=count))
    deployment = live_selectors.deployment_get(user=user, pk=target_id)
    services.deployment_pause(actor=_actor(user), deployment=deployment, reason=reason, code="telegram")
    return Reply(_("Paused #{id} {name}.").format(id=deployment.pk, name=deployment.name))


def _resume_one(user: Any, deployment: Any) -> str:
    from trading.live import services

    if deployment.real_money and _mfa_enabled(user):
        return _web_confirm_text(deployment)
    try:
        # the button the user pressed under "it trades real money" is the real-money confirmation
        services.deployment_resume(actor=_actor(user), deployment=deployment, confirm_real=True)
    except PermissionDenied:
        return _web_confirm_text(deployment)
    except ApplicationError as refused:
        return f"#{deployment.pk} {deployment.name}: {refused.message}"
    return _("Resumed #{id} {name}.").format(id=deployment.pk, name=deployment.name)


def _resume_run(user: Any, target_id: int | None) -> Reply:
    from trading.live import selectors as live_selectors

    if target_id is not None:
        return Reply(_resume_one(user, live_selectors.deployment_get(user=user, pk=target_id)))
    rows = list(live_selectors.deployment_list(user=user).filter(state__in=("paused", "halted")).order_by("pk"))
    if not rows:
        return Reply(_no_resumable())
    return Reply("\n".join(_resume_one(user, deployment) for deployment in rows))


def _kill_run(user: Any, *, cancel_open_orders: bool) -> Reply:
    from trading.killswitch import kill_switch_pull

    kill_switch_pull(actor=_actor(user), scope="user", user=user, reason=_("Pulled from Telegram"),
                     cancel_open_orders=cancel_open_orders)
    text = _("Your kill switch is pulled: no new order is placed or sent. Release it on the website: {link}").format(
        link=_web(reverse("trading:kill_switches")))
    if cancel_open_orders:
        text += "\n" + _("The cancellation of your open orders was requested.")
    return Reply(text)


# -- the door's entry -----------------------------------------------------------------------------
def command_run(*, link: TelegramLink, command: str, args: list[str]) -> Reply:
    """The answer to ``/command args`` from the linked chat ``link``."""
    user = link.owner
    if command == "status":
        return Reply(status_text(user))
    if command == "positions":
        return Reply(positions_text(user))
    if command == "pnl":
        return Reply(pnl_text(user))
    if command == "orders":
        return Reply(orders_text(user))
    if command == "pause":
        return pause_ask(user, link.chat_id, args)
    if command == "resume":
        return resume_ask(user, link.chat_id, args)
    if command == "kill":
        return kill_ask(user, link.chat_id)
    if command == "help":
        return Reply(help_text())
    return Reply(_("Unknown command. Send /help for the list."))


__all__ = ["Reply", "button_press", "command_run", "help_text", "pnl_figures"]
