"""The catalogue of notification kinds: which published events are worth keeping, how each reads.

A published event (``order.filled``, ``backtest.finished``…) maps to at most one *kind*
(``order_filled``), the unit of the user's preferences. ``kind_for`` answers that mapping (None for
what is not worth keeping: ticks, ``order.submitting``, progress…); ``render`` turns the event into
a title, body and link in the user's language, with times in the user's time zone.

No database access here: ``render`` needs only the user's language and time zone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import formats, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

IN_APP, TELEGRAM, EMAIL = "in_app", "telegram", "email"
CHANNELS: tuple[str, ...] = (IN_APP, TELEGRAM, EMAIL)
CHANNEL_LABELS = {IN_APP: gettext_lazy("In the app"), TELEGRAM: gettext_lazy("Telegram"),
                  EMAIL: gettext_lazy("Email")}

INFO, SUCCESS, WARNING, CRITICAL = "info", "success", "warning", "critical"

CATEGORIES: dict[str, Any] = {
    "trading": gettext_lazy("Orders and positions"),
    "deployments": gettext_lazy("Deployments"),
    "backtests": gettext_lazy("Backtests"),
    "account": gettext_lazy("Account and plan"),
    "platform": gettext_lazy("Platform"),
}

FILLS = "fills"  # the Telegram coalescing key of fills: a burst goes out as one message


@dataclass(frozen=True)
class Kind:
    key: str
    label: Any  # lazy translation
    category: str
    level: str
    critical: bool
    channels: frozenset[str]  # the defaults when the user has not chosen
    coalesce_key: str = ""
    # told once per value of this payload field until it recovers (a failing account is checked hourly)
    once_per: str = ""


@dataclass(frozen=True)
class Message:
    """One event as the user reads it."""

    kind: Kind
    title: str
    body: str
    link: str
    level: str
    critical: bool  # passes quiet hours


_APP = frozenset({IN_APP})
_APP_TG = frozenset({IN_APP, TELEGRAM})
_APP_MAIL = frozenset({IN_APP, EMAIL})
_ALL = frozenset(CHANNELS)

KINDS: dict[str, Kind] = {k.key: k for k in (
    Kind("order_filled", gettext_lazy("Order filled"), "trading", SUCCESS, False, _APP_TG, FILLS),
    Kind("order_rejected", gettext_lazy("Order rejected or not placed"), "trading", WARNING, False, _APP_TG),
    Kind("order_unknown", gettext_lazy("Order left unknown"), "trading", CRITICAL, True, _ALL),
    Kind("position_mismatch", gettext_lazy("Position mismatch"), "trading", CRITICAL, True, _ALL),
    Kind("killswitch", gettext_lazy("Kill switch"), "trading", CRITICAL, True, _ALL),
    Kind("deployment_paused", gettext_lazy("Deployment paused by a rule"), "deployments", WARNING, False, _APP_TG),
    Kind("deployment_halted", gettext_lazy("Deployment halted"), "deployments", CRITICAL, True, _ALL),
    Kind("backtest_finished", gettext_lazy("Backtest finished"), "backtests", SUCCESS, False, _APP),
    Kind("backtest_failed", gettext_lazy("Backtest failed"), "backtests", WARNING, False, _APP),
    Kind("sweep_finished", gettext_lazy("Parameter sweep finished or failed"), "backtests", SUCCESS, False, _APP),
    # no email by default: the account service already emails the owner when a verified account stops verifying
    Kind("broker_failed", gettext_lazy("Broker credentials failing"), "account", CRITICAL, True, _APP_TG,
         once_per="account_id"),
    Kind("token_problem", gettext_lazy("Broker token problem"), "account", CRITICAL, True, _APP_TG,
         once_per="account_id"),
    Kind("coupon_applied", gettext_lazy("Coupon applied"), "account", SUCCESS, False, _APP),
    Kind("plan_changed", gettext_lazy("Plan changed or ending"), "account", INFO, False, _APP),
    Kind("telegram_link", gettext_lazy("Telegram linked or unlinked"), "account", INFO, False, _APP),
    Kind("webhook_disabled", gettext_lazy("Webhook disabled"), "account", WARNING, False, _APP_MAIL),
    Kind("feedback_answered", gettext_lazy("Feedback answered"), "platform", SUCCESS, False, _APP_MAIL),
    Kind("announcement", gettext_lazy("Announcements"), "platform", INFO, False, _APP),
)}

# event name -> kind key, for the events that map whatever their payload says
_BY_EVENT: dict[str, str] = {
    "order.filled": "order_filled",
    "order.partially_filled": "order_filled",
    "order.fill": "order_filled",  # a further fill that leaves the order's state as it was
    "order.rejected": "order_rejected",
    "order.not_placed": "order_rejected",
    "order.revise_rejected": "order_rejected",
    "order.unknown": "order_unknown",
    "position.mismatch": "position_mismatch",
    "killswitch.pulled": "killswitch",
    "killswitch.released": "killswitch",
    "deployment.halted": "deployment_halted",
    "broker.token_failed": "token_problem",
    "coupon.redeemed": "coupon_applied",
    "subscription.ending": "plan_changed",
    "subscription.over_limit": "plan_changed",
    "feedback.resolved": "feedback_answered",
    "announcement.published": "announcement",
    "announcement.resolved": "announcement",
    "webhook.disabled": "webhook_disabled",
    "telegram.linked": "telegram_link",
    "telegram.unlinked": "telegram_link",
}

# event -> the kinds it ends (the next failure is told again)
RECOVERIES: dict[str, tuple[str, ...]] = {"broker.verified": ("broker_failed", "token_problem")}

# events that never become a notification, whatever else changes (the websocket still carries them)
NOT_KEPT_EXAMPLES = ("order.new", "order.submitting", "order.accepted", "order.cancelled", "backtest.progress",
                     "sweep.progress", "broker.verified", "deployment.started", "deployment.resumed", "tick")


def kind_for(event: str, payload: dict[str, Any]) -> Kind | None:
    """The kind ``event`` is kept as, or None when it is not worth keeping."""
    key = _BY_EVENT.get(event)
    if key is None:
        key = _by_payload(event, payload)
    return KINDS.get(key) if key else None


def _by_payload(event: str, payload: dict[str, Any]) -> str | None:
    status = payload.get("status")
    if event == "backtest.finished":  # a cancel is the user's own doing: nothing to tell
        return {"succeeded": "backtest_finished", "failed": "backtest_failed"}.get(status)
    if event == "sweep.finished":
        return "sweep_finished" if status in ("succeeded", "failed") else None
    if event == "deployment.paused":  # the user's own pause has no code: only a rule's is told
        return "deployment_paused" if payload.get("state_code") else None
    if event == "broker.verification_failed":
        code = str(payload.get("status_code") or "").lower()
        return "token_problem" if "token" in code else "broker_failed"
    if event == "subscription.changed":  # a coupon's grant is told by coupon.redeemed
        return None if payload.get("source") == "coupon" else "plan_changed"
    return None


def kinds_by_category() -> list[tuple[str, Any, list[Kind]]]:
    """(category key, label, kinds) in the catalogue's order: the preferences grid's rows."""
    return [(key, label, [k for k in KINDS.values() if k.category == key]) for key, label in CATEGORIES.items()]


# -- rendering ---------------------------------------------------------------------------------------
def _link(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args) if all(a not in (None, "") for a in args) else reverse(name)
    except NoReverseMatch:
        return ""


def _when(value: Any, tz: dt.tzinfo) -> str:
    """An ISO time of a payload in the user's time zone, formatted for their language."""
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return formats.date_format(moment.astimezone(tz), "DATETIME_FORMAT")


def _amount(value: Any) -> str:
    """A quantity or a price of a payload ("62500", "1.5") with thousands separators, or "-"."""
    if value in (None, ""):
        return "-"
    try:
        return formats.number_format(Decimal(str(value)), use_l10n=True, force_grouping=True)
    except (InvalidOperation, ValueError):
        return str(value)


def _instrument(p: dict[str, Any]) -> str:
    """삼성전자 (005930) when the routing found the instrument's name, else the code."""
    symbol, name = p.get("symbol", ""), p.get("symbol_name", "")
    return f"{name} ({symbol})" if name and symbol else symbol


def _side(payload: dict[str, Any]) -> str:
    return {"buy": _("Buy"), "sell": _("Sell")}.get(str(payload.get("side", "")).lower(), "")


def _order(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    symbol, side, link = _instrument(p), _side(p), _link("trading:order_detail", p.get("id"))
    if kind.key == "order_filled":
        body = _("%(side)s %(symbol)s: %(filled)s of %(quantity)s filled at an average of %(price)s.") % {
            "side": side, "symbol": symbol, "filled": _amount(p.get("filled_quantity") or "0"),
            "quantity": _amount(p.get("quantity")), "price": _amount(p.get("average_fill_price"))}
        title = (_("Order filled: %(symbol)s") if event == "order.filled"
                 else _("Order partly filled: %(symbol)s")) % {"symbol": symbol}
        return title, body, link
    if kind.key == "order_unknown":
        return (_("Order being checked with the broker: %(symbol)s") % {"symbol": symbol},
                _("The broker's answer about this order was lost; it will not be sent again and is being "
                  "settled against the day's orders. Check it before placing it again."), link)
    title = (_("Order not placed: %(symbol)s") if event == "order.not_placed"
             else _("Order rejected: %(symbol)s")) % {"symbol": symbol}
    return title, str(p.get("reason") or _("%(side)s %(quantity)s") % {"side": side, "quantity": p.get("quantity")}), link


def _position(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    return (_("Position mismatch: %(symbol)s") % {"symbol": p.get("symbol", "")},
            _("The broker and the ledger disagree (%(note)s). New orders for it are refused until it is resolved.")
            % {"note": p.get("note", "")}, _link("trading:positions"))


def _killswitch(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    link = _link("trading:kill_switches")
    if event == "killswitch.released":
        return _("Kill switch released"), _("Trading may resume."), link
    return _("Kill switch pulled"), _("No new orders are sent. Reason: %(reason)s") % {"reason": p.get("reason", "")}, link


def _deployment(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    name, link = p.get("name", ""), _link("trading:deployment_detail", p.get("id"))
    title = (_("Deployment halted: %(name)s") if kind.key == "deployment_halted"
             else _("Deployment paused: %(name)s")) % {"name": name}
    return title, str(p.get("state_reason") or ""), link


def _backtest(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    if event.startswith("sweep."):
        link = _link("backtests:sweep_detail", p.get("id"))
        if p.get("status") == "failed":
            return _("Parameter sweep failed"), str(p.get("error") or ""), link
        return (_("Parameter sweep finished"),
                _("%(done)s of %(total)s combinations ran.") % {"done": p.get("cells_done", "?"),
                                                               "total": p.get("cells_total", "?")}, link)
    title_text, link = p.get("title") or "#%s" % p.get("id"), _link("backtests:detail", p.get("id"))
    if kind.key == "backtest_failed":
        return _("Backtest failed: %(title)s") % {"title": title_text}, str(p.get("error") or ""), link
    total = p.get("total_return")
    body = (_("Total return %(value)s%%.") % {"value": formats.number_format(float(total) * 100, 2)}
            if isinstance(total, int | float) else "")
    return _("Backtest finished: %(title)s") % {"title": title_text}, body, link


def _broker(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    title = (_("Broker token problem: %(name)s") if kind.key == "token_problem"
             else _("Broker connection failing: %(name)s")) % {"name": p.get("nickname", "")}
    return title, str(p.get("reason") or _("Check the account's keys.")), _link("trading:account", p.get("account_id"))


def _plan(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    plan, link = str(p.get("plan") or ""), _link("plans:me")
    if kind.key == "coupon_applied":
        return (_("Coupon applied"),
                _("Plan %(plan)s for %(days)s days, until %(ends)s.") % {
                    "plan": plan, "days": p.get("days", "?"), "ends": _when(p.get("ends_at"), tz) or "-"}, link)
    if event == "subscription.ending":
        return _("Your plan ends soon"), _("Plan %(plan)s ends at %(ends)s.") % {
            "plan": plan, "ends": _when(p.get("ends_at"), tz)}, link
    if event == "subscription.over_limit":
        return (_("Paused over your plan's limits"),
                _("Your plan is now %(plan)s; what went over its limits was paused.") % {"plan": plan}, link)
    return _("Your plan changed"), _("Your plan is now %(plan)s.") % {"plan": plan}, link


def _platform(kind: Kind, event: str, p: dict[str, Any], tz: dt.tzinfo) -> tuple[str, str, str]:
    link = str(p.get("link") or "")
    if kind.key == "feedback_answered":
        return (_("Your report was answered: %(summary)s") % {"summary": p.get("summary", "")},
                str(p.get("answer") or ""), link)
    if kind.key == "announcement":
        title = str(p.get("title") or "")
        if event == "announcement.resolved":
            return _("Resolved: %(title)s") % {"title": title}, str(p.get("resolution") or ""), link
        return title, str(p.get("body") or ""), link
    if kind.key == "webhook_disabled":
        return (_("Webhook disabled: %(host)s") % {"host": p.get("url_host", "")},
                _("It failed too many times in a row (%(reason)s). Fix it and turn it on again.")
                % {"reason": p.get("reason", "")}, link)
    username = p.get("username") or ""
    if event == "telegram.unlinked":
        return _("Telegram unlinked"), _("Alerts no longer go to Telegram."), link or _link("notifications:preferences")
    return (_("Telegram linked"), _("Alerts now go to the chat of %(username)s.") % {"username": username or "Telegram"},
            link or _link("notifications:preferences"))


_RENDERERS: dict[str, Callable[[Kind, str, dict[str, Any], dt.tzinfo], tuple[str, str, str]]] = {
    "order_filled": _order, "order_rejected": _order, "order_unknown": _order,
    "position_mismatch": _position, "killswitch": _killswitch,
    "deployment_paused": _deployment, "deployment_halted": _deployment,
    "backtest_finished": _backtest, "backtest_failed": _backtest, "sweep_finished": _backtest,
    "broker_failed": _broker, "token_problem": _broker,
    "coupon_applied": _plan, "plan_changed": _plan,
    "feedback_answered": _platform, "announcement": _platform, "webhook_disabled": _platform,
    "telegram_link": _platform,
}


def _zone(name: str | None) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Asia/Seoul")


def render(kind: Kind, event: str, payload: dict[str, Any], *, language: str | None = None,
           time_zone: str | None = None) -> Message:
    """``event`` as ``kind``'s title, body and link in ``language``, times in ``time_zone``."""
    level, critical = kind.level, kind.critical
    if event == "killswitch.released":
        level, critical = INFO, False
    elif kind.key == "sweep_finished" and payload.get("status") == "failed":
        level = WARNING
    with translation.override(language or settings.LANGUAGE_CODE):
        title, body, link = _RENDERERS[kind.key](kind, event, payload, _zone(time_zone))
        title = title or str(kind.label)
    return Message(kind=kind, title=str(title)[:200], body=str(body), link=str(link)[:300], level=level,
                   critical=critical)


def render_for(user: Any, kind: Kind, event: str, payload: dict[str, Any]) -> Message:
    return render(kind, event, payload, language=getattr(user, "language", None),
                  time_zone=getattr(user, "timezone", None))
