"""Every write of deployments: create, change, start (the go-live rules), pause, resume, stop, halt.

Each service takes the acting ``actor``, runs in a transaction, writes an audit row and publishes
``deployment.<what>`` to the owner on commit. Rules:

- the strategy and the account are the owner's; the account is usable (not disabled);
- plan limits through ``coupons.lifecycle.limit_check``: symbols per deployment (on create and
  change), running deployments and real-money deployments (on start and resume);
- capital: the allotments of a user's active deployments on one account may not exceed the
  account's equity when an allotment is made (``account_equity``);
- a real-money deployment starts only with ``confirm_real=True`` and, when the user has 2FA on,
  a valid second factor (``otp_code``, checked by ``accounts.services.second_factor_verify``);
- starting snapshots the strategy (type, parameters, sizing and risk rules) and claims its symbols
  in the account (``SymbolClaim``: one owner per account and symbol); a symbol another deployment
  already owns stays blocked for this one, with a message naming the owner (``claims_blocked``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext, gettext as _

from core import clock, events
from core.audit import Actor, audit_record, changes
from core.errors import ApplicationError, NotFound, PermissionDenied
from trading import risk
from trading.live.models import (
    ACTIVE_STATES,
    Deployment,
    DeploymentState,
    DeploymentTiming,
    SymbolClaim,
)
from trading.models import AccountStatus, BrokerAccount, BrokerEnvironment

ZERO = Decimal(0)
PAST = {"pause": "paused", "resume": "resumed", "halt": "halted", "stop": "stopped"}
EDITABLE = ("name", "capital", "symbols", "timing", "interval_minutes")


def _user_of(actor: Actor, owner: Any) -> None:
    """A user acts only on their own rows; admins, the system and strategies are trusted."""
    if actor.kind == "user" and actor.user_id != owner.pk:
        raise NotFound(_("No such deployment."))


def _state(deployment: Deployment) -> dict[str, Any]:
    return {"state": deployment.state, "capital": str(deployment.capital), "symbols": list(deployment.symbols),
            "timing": deployment.timing, "interval_minutes": deployment.interval_minutes, "name": deployment.name,
            "strategy_type": deployment.strategy_type, "params": deployment.params, "risk": deployment.risk}


def _payload(deployment: Deployment) -> dict[str, Any]:
    return {"id": deployment.pk, "name": deployment.name, "state": deployment.state,
            "state_code": deployment.state_code, "state_reason": deployment.state_reason}


def _publish(deployment: Deployment, what: str) -> None:
    events.publish(user_id=deployment.owner_id, event=f"deployment.{what}", payload=_payload(deployment))


def account_equity(account: BrokerAccount, *, now: dt.datetime | None = None) -> Decimal:
    """The account's equity now: a paper book's cash and positions at the newest prices; a broker
    account's last balance (total evaluation, else orderable cash plus the positions' value)."""
    now = now or clock.now()
    if account.is_paper:
        from trading.paper.models import PaperPosition
        from trading.paper.prices import latest_price
        from trading.paper.selectors import paper_book_get

        book = paper_book_get(account=account)
        equity = book.cash
        for position in PaperPosition.objects.filter(book=book, quantity__gt=0):
            point = latest_price(position.symbol, now=now)
            equity += position.quantity * point.price if point is not None else position.cost
        return equity
    snapshot = account.balance_snapshot or {}
    if snapshot.get("total_evaluation") not in (None, ""):
        return Decimal(snapshot["total_evaluation"])
    cash = Decimal(snapshot.get("orderable_cash") or 0)
    return cash + sum((Decimal(p.get("evaluation") or 0) for p in snapshot.get("positions", [])), ZERO)


def _allotted(account: BrokerAccount, *, excluding: int | None = None) -> Decimal:
    rows = Deployment.objects.filter(account=account, state__in=ACTIVE_STATES)
    if excluding is not None:
        rows = rows.exclude(pk=excluding)
    return rows.aggregate(total=Sum("capital"))["total"] or ZERO


def _capital_check(account: BrokerAccount, capital: Decimal, *, excluding: int | None = None) -> None:
    """The allotment rule of ``trading.risk`` (``allotment_failures``): the account's active
    deployments' allotments and this one within the account's equity."""
    if capital is None or capital <= 0:
        raise ApplicationError(_("The capital must be more than 0 KRW."), field="capital", code="capital_invalid")
    failures = risk.allotment_failures(capital=capital, allotted=_allotted(account, excluding=excluding),
                                       equity=account_equity(account))
    if failures:
        raise ApplicationError(failures[0].message_in(gettext), field="capital", code="capital_over_equity")


def _symbols_check(user: Any, symbols: list[str]) -> list[str]:
    from coupons.lifecycle import limit_check
    from marketdata.models import Instrument

    codes = list(dict.fromkeys(str(code).strip().upper() for code in symbols if str(code).strip()))
    if not codes:
        raise ApplicationError(_("Choose at least one symbol."), field="symbols", code="symbols_empty")
    known = set(Instrument.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise ApplicationError(_("Unknown symbols: {codes}.").format(codes=", ".join(unknown)), field="symbols",
                               code="symbols_unknown")
    limit_check(user=user, field="max_symbols_per_deployment", used=0, adding=len(codes))
    return codes


def _timing_check(timing: str, interval_minutes: int | None) -> None:
    if timing not in DeploymentTiming.values:
        raise ApplicationError(_("Choose when the deployment acts."), field="timing", code="timing_invalid")
    if timing == DeploymentTiming.INTERVAL and not (interval_minutes and 1 <= interval_minutes <= 390):
        raise ApplicationError(_("Say every how many minutes (1 to 390) it acts."), field="interval_minutes",
                               code="interval_invalid")


def deployment_create(*, actor: Actor, strategy: Any, account: BrokerAccount, name: str, capital: Decimal,
                      timing: str = DeploymentTiming.OPEN, interval_minutes: int | None = None,
                      symbols: list[str] | None = None, replay: bool = False,
                      replay_start: dt.date | None = None, replay_end: dt.date | None = None) -> Deployment:
    """A draft deployment of ``strategy`` on ``account`` (both the actor's). ``symbols`` default to
    the strategy's universe. Nothing trades until ``deployment_start``."""
    owner = strategy.owner
    _user_of(actor, owner)
    if account.owner_id != owner.pk:
        raise NotFound(_("No such broker account."))
    if account.status == AccountStatus.DISABLED:
        raise ApplicationError(_("This broker account is disabled; enable it again first."), field="account",
                               code="account_disabled")
    name = (name or "").strip() or strategy.name
    codes = _symbols_check(owner, symbols if symbols is not None else strategy.universe_codes())
    _timing_check(timing, interval_minutes)
    if replay and not account.is_paper:
        raise ApplicationError(_("A replay runs only on a paper account."), field="account", code="replay_paper_only")
    _replay_account_check(account, replay)
    capital = Decimal(capital)
    with transaction.atomic():
        _capital_check(account, capital)
        deployment = Deployment(
            owner=owner, strategy=strategy, account=account, name=name[:100], capital=capital, symbols=codes,
            watchlist=strategy.watchlist, timing=timing,
            interval_minutes=interval_minutes if timing == DeploymentTiming.INTERVAL else None,
            real_money=account.environment == BrokerEnvironment.REAL and not account.is_paper,
            replay=replay, replay_start=replay_start, replay_end=replay_end)
        _snapshot(deployment)
        try:
            with transaction.atomic():
                deployment.save()
        except IntegrityError:
            raise ApplicationError(_("You already have a deployment named {name}.").format(name=name),
                                   field="name", code="name_taken") from None
        audit_record(actor=actor, action="deployment.create", owner=owner, target=deployment, after=_state(deployment))
        _publish(deployment, "created")
    return deployment


def replay_account_ids(*, user: Any) -> set[int]:
    """The user's paper accounts that host a replay: a replay moves its book through past days, so
    its account is its own (no other deployment trades there)."""
    return set(Deployment.objects.filter(owner=user, replay=True).values_list("account_id", flat=True))


def _replay_account_check(account: BrokerAccount, replay: bool) -> None:
    others = Deployment.objects.filter(account=account).exclude(replay=replay)
    if others.exists():
        message = (_("This paper account already runs other deployments: a replay needs a paper account of its own.")
                   if replay else
                   _("This paper account belongs to a replay of past days; choose or open another account."))
        raise ApplicationError(message, field="account", code="replay_account")


def _snapshot(deployment: Deployment) -> None:
    strategy = deployment.strategy
    deployment.strategy_type = strategy.strategy_type
    deployment.params = dict(strategy.params)
    deployment.risk = strategy.engine_options()


def _locked(deployment: Deployment) -> Deployment:
    return Deployment.objects.select_for_update().select_related("account", "strategy", "owner").get(pk=deployment.pk)


def deployment_update(*, actor: Actor, deployment: Deployment, apply_strategy: bool = False,
                      **values: Any) -> Deployment:
    """Change the name, capital, symbols, timing or interval (and with ``apply_strategy`` take the
    strategy's current parameters and risk rules); audited before → after."""
    _user_of(actor, deployment.owner)
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ApplicationError(_("These cannot be changed: {names}.").format(names=", ".join(sorted(unknown))),
                               code="not_editable")
    with transaction.atomic():
        deployment = _locked(deployment)
        if deployment.state == DeploymentState.STOPPED:
            raise ApplicationError(_("A stopped deployment cannot be changed."), code="deployment_stopped")
        before = _state(deployment)
        if "symbols" in values:
            values["symbols"] = _symbols_check(deployment.owner, values["symbols"])
        timing = values.get("timing", deployment.timing)
        interval = values.get("interval_minutes", deployment.interval_minutes)
        _timing_check(timing, interval)
        if "capital" in values:
            values["capital"] = Decimal(values["capital"])
            if deployment.is_active:
                _capital_check(deployment.account, values["capital"], excluding=deployment.pk)
            elif values["capital"] <= 0:
                _capital_check(deployment.account, values["capital"])
        for key, value in values.items():
            setattr(deployment, key, value)
        if timing != DeploymentTiming.INTERVAL:
            deployment.interval_minutes = None
        if apply_strategy:
            _snapshot(deployment)
        deployment.save()
        if deployment.is_active and "symbols" in values:
            _claim(deployment)
        old, new = changes(before, _state(deployment))
        audit_record(actor=actor, action="deployment.update", owner=deployment.owner, target=deployment,
                     before=old, after=new)
        _publish(deployment, "updated")
    return deployment


def _mfa_enabled(user: Any) -> bool:
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user)


def _real_money_check(actor: Actor, deployment: Deployment, confirm_real: bool, otp_code: str, request: Any) -> None:
    if not deployment.real_money:
        return
    if not confirm_real:
        raise ApplicationError(
            _("This deployment trades real money in a real account: confirm that you want it to place real orders."),
            field="confirm_real", code="real_money_unconfirmed")
    if actor.kind == "user" and _mfa_enabled(deployment.owner):
        if request is None:
            raise PermissionDenied(_("Real-money trading with 2FA on is confirmed in the web app."),
                                   code="second_factor_web_only")
        from accounts.services import second_factor_verify

        second_factor_verify(request=request, user=deployment.owner, code=otp_code)


LIVE_TRADING_OFF = _("Live trading through brokers is paused by the operators for now; paper deployments still run.")
REAL_MONEY_OFF = _("Real-money trading is paused by the operators for now.")


def _platform_check(deployment: Deployment) -> None:
    """The operators' switches (system settings): live trading through a broker, real money."""
    from core.system.selectors import system_settings

    switches = system_settings()
    if deployment.real_money and not switches.real_money_allowed:
        raise ApplicationError(REAL_MONEY_OFF, code="real_money_off")
    if deployment.account.broker != "paper" and not switches.live_trading_allowed:
        raise ApplicationError(LIVE_TRADING_OFF, code="live_trading_off")


def _running_limits(deployment: Deployment) -> None:
    from coupons.lifecycle import limit_check
    from trading.live.selectors import deployments_running

    user = deployment.owner
    limit_check(user=user, field="max_running_deployments",
                used=deployments_running(user=user).exclude(pk=deployment.pk).count())
    if deployment.real_money:
        limit_check(user=user, field="max_real_deployments",
                    used=deployments_running(user=user, real=True).exclude(pk=deployment.pk).count())


def claims_blocked(deployment: Deployment) -> dict[str, str]:
    """The deployment's symbols another deployment owns in the same account: {symbol: message}."""
    taken = (SymbolClaim.objects.filter(account_id=deployment.account_id, symbol__in=deployment.symbols)
             .exclude(deployment=deployment).select_related("deployment"))
    return {claim.symbol: claim_message(claim.symbol, claim.deployment.name) for claim in taken}


def claim_message(symbol: str, owner_name: str) -> str:
    """Why a deployment does not trade ``symbol``: the deployment ``owner_name`` owns it in the account."""
    return _("{symbol} in this account belongs to your deployment “{name}”: one deployment per "
             "symbol and account, so this one does not trade it.").format(symbol=symbol, name=owner_name)


def _claim(deployment: Deployment) -> None:
    """Claim every symbol of the deployment nobody owns in its account (race-safe: the unique key)."""
    owned = set(SymbolClaim.objects.filter(account_id=deployment.account_id, symbol__in=deployment.symbols)
                .values_list("symbol", flat=True))
    for symbol in deployment.symbols:
        if symbol in owned:
            continue
        try:
            with transaction.atomic():
                SymbolClaim.objects.create(account_id=deployment.account_id, symbol=symbol, deployment=deployment)
        except IntegrityError:
            continue  # another deployment took it a moment ago: blocked for this one


def claims_release(deployment: Deployment, *, keep_held: bool = True) -> int:
    """Give up the deployment's claims (those of symbols it still holds stay when ``keep_held``)."""
    from trading.orders.models import Position

    rows = SymbolClaim.objects.filter(deployment=deployment)
    if keep_held:
        held = Position.objects.filter(account_id=deployment.account_id, quantity__gt=0).values_list("symbol",
                                                                                                    flat=True)
        rows = rows.exclude(symbol__in=list(held))
    return rows.delete()[0]


def deployment_start(*, actor: Actor, deployment: Deployment, confirm_real: bool = False, otp_code: str = "",
                     request: Any = None) -> Deployment:
    """Draft (or stopped) → running: plan limits, capital, the real-money confirmation and second
    factor, the strategy snapshot, the symbol claims."""
    _user_of(actor, deployment.owner)
    with transaction.atomic():
        deployment = _locked(deployment)
        if deployment.state not in (DeploymentState.DRAFT, DeploymentState.STOPPED):
            raise ApplicationError(_("Only a draft or stopped deployment can be started."), code="deployment_state")
        if deployment.account.status == AccountStatus.DISABLED:
            raise ApplicationError(_("This broker account is disabled; enable it again first."), field="account",
                                   code="account_disabled")
        _platform_check(deployment)
        _running_limits(deployment)
        _capital_check(deployment.account, deployment.capital, excluding=deployment.pk)
        _real_money_check(actor, deployment, confirm_real, otp_code, request)
        before = {"state": deployment.state}
        _snapshot(deployment)
        now = clock.now()
        deployment.state, deployment.state_code, deployment.state_reason = DeploymentState.RUNNING, "", ""
        deployment.started_at, deployment.stopped_at = now, None
        if deployment.real_money:
            deployment.confirmed_real_at = now
        deployment.save()
        _claim(deployment)
        audit_record(actor=actor, action="deployment.start", owner=deployment.owner, target=deployment,
                     before=before, after={"state": deployment.state, "real_money": deployment.real_money,
                                           "params": deployment.params, "risk": deployment.risk})
        _publish(deployment, "started")
        if deployment.replay:
            _replay_play(deployment)
    return deployment


def _replay_play(deployment: Deployment) -> None:
    """A replay plays its past days itself, paced (``trading.live.replay``)."""
    from trading.live.replay import replay_enqueue

    replay_enqueue(deployment.pk)


def _move(actor: Actor, deployment: Deployment, *, allowed: tuple[str, ...], to: str, action: str, code: str = "",
          reason: str = "", message: str) -> Deployment:
    _user_of(actor, deployment.owner)
    with transaction.atomic():
        deployment = _locked(deployment)
        if deployment.state not in allowed:
            raise ApplicationError(message, code="deployment_state")
        before = {"state": deployment.state}
        deployment.state, deployment.state_code, deployment.state_reason = to, code, reason[:300]
        if to == DeploymentState.STOPPED:
            deployment.stopped_at = clock.now()
        deployment.save()
        audit_record(actor=actor, action=f"deployment.{action}", owner=deployment.owner, target=deployment,
                     before=before, after={"state": to, "code": code}, reason=reason)
        _publish(deployment, PAST[action])
    return deployment


def deployment_pause(*, actor: Actor, deployment: Deployment, reason: str = "", code: str = "") -> Deployment:
    """Running → paused: no new entries or exits are decided; orders already sent stay."""
    return _move(actor, deployment, allowed=(DeploymentState.RUNNING,), to=DeploymentState.PAUSED, action="pause",
                 code=code, reason=reason, message=_("Only a running deployment can be paused."))


def deployment_resume(*, actor: Actor, deployment: Deployment, confirm_real: bool = False, otp_code: str = "",
                      request: Any = None) -> Deployment:
    """Paused or halted → running, with the plan limits and, for real money, the confirmation again."""
    _user_of(actor, deployment.owner)
    with transaction.atomic():
        locked = _locked(deployment)
        if locked.state not in (DeploymentState.PAUSED, DeploymentState.HALTED):
            raise ApplicationError(_("Only a paused or halted deployment can be resumed."), code="deployment_state")
        _platform_check(locked)
        _running_limits(locked)
        _real_money_check(actor, locked, confirm_real, otp_code, request)
        resumed = _move(actor, locked, allowed=(DeploymentState.PAUSED, DeploymentState.HALTED),
                        to=DeploymentState.RUNNING, action="resume", message="")
        if resumed.replay:
            _replay_play(resumed)
        return resumed


def deployment_halt(*, actor: Actor, deployment: Deployment, code: str, reason: str) -> Deployment:
    """Stopped by a rule or an error (daily loss, kill switch, stale data, a failing broker):
    running or paused → halted, with the code and reason the page shows."""
    return _move(actor, deployment, allowed=ACTIVE_STATES, to=DeploymentState.HALTED, action="halt", code=code,
                 reason=reason, message=_("Only an active deployment can be halted."))


def deployment_stop(*, actor: Actor, deployment: Deployment, close_positions: bool = False) -> Deployment:
    """Stop for good (it can be started again later). With ``close_positions`` the runner sells
    what it holds at the next chance (``close_all`` signals); otherwise positions stay in the
    account and their symbols stay claimed until sold."""
    deployment = _move(actor, deployment,
                       allowed=(DeploymentState.RUNNING, DeploymentState.PAUSED, DeploymentState.HALTED,
                                DeploymentState.DRAFT),
                       to=DeploymentState.STOPPED, action="stop", code="close_positions" if close_positions else "",
                       message=_("This deployment is already stopped."))
    if not close_positions:
        claims_release(deployment, keep_held=True)
    return deployment


def deployments_pause_all(*, actor: Actor, user: Any, code: str, reason: str) -> int:
    """Pause every running deployment of ``user`` (daily loss limit, plan over limit); the count."""
    paused = 0
    for deployment in Deployment.objects.filter(owner=user, state=DeploymentState.RUNNING):
        deployment_pause(actor=actor, deployment=deployment, reason=reason, code=code)
        paused += 1
    return paused


__all__ = [
    "account_equity", "claim_message", "claims_blocked", "claims_release", "deployment_create", "deployment_halt",
    "deployment_pause", "deployment_resume", "deployment_start", "deployment_stop", "deployment_update",
    "deployments_pause_all", "replay_account_ids",
]
