"""Pages of deployments under 거래 (Trading) → 자동매매 (/trading/deployments/): the list, the go-live
wizard, a deployment's page with its controls, and its edit form.

Doors only: parse (``trading.live.forms``), read through the owner-scoped selectors (another user's
deployment is a 404), call ``trading.live.services``, render. Every action is a POST with CSRF; a
refusal lands on its field (the wizard goes back to the step that holds it) or at the top.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core import clock
from core.audit import Actor
from core.errors import ApplicationError, NotFound
from marketdata import selectors as market_selectors
from trading.killswitch import kill_switch_state
from trading.live import forms, overview, selectors, services
from trading.live.models import Deployment, DeploymentState

DRIFT_TEMPLATE = "trading/live/_drift.html"

STARTED = _("“{name}” is running.")
STARTED_PAPER = _("“{name}” is running on paper: no real money is involved.")
PAUSED = _("“{name}” is paused: it decides nothing new until you resume it.")
RESUMED = _("“{name}” is running again.")
STOPPED = _("“{name}” is stopped; its positions stay in the account.")
STOPPED_CLOSING = _("“{name}” is stopped; it sells what it holds at the next chance.")
SAVED = _("Changes to “{name}” are saved.")
NOTHING_CHANGED = _("Nothing was changed.")

# when it acts, short (the choices' labels say the auction times, for the forms)
TIMING_SHORT = {"open": _("At the open"), "close": _("At the close")}


def timing_label(timing: str, interval_minutes: int | None) -> str:
    if timing == "interval":
        return str(_("Every {minutes} min")).format(minutes=interval_minutes or "?")
    return str(TIMING_SHORT.get(timing, timing))


# the wizard's steps, and the step each field of the services' errors belongs to
STEP_TITLES = {1: _("Strategy and account"), 2: _("Capital and timing"), 3: _("Review and start")}
STEP_OF_FIELD = {**dict.fromkeys(forms.STEP1_FIELDS, 1), **dict.fromkeys(forms.STEP2_FIELDS, 2),
                 **dict.fromkeys(forms.STEP3_FIELDS, 3)}


def context_for(request: HttpRequest, **values: Any) -> dict[str, Any]:
    return {"nav": "deployments", "kill": kill_switch_state(user=request.user), **values}


def _deployment_or_404(request: HttpRequest, pk: int) -> Deployment:
    try:
        return selectors.deployment_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None


def _has_template(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


# -- the list ------------------------------------------------------------------------------------
@login_required
def deployment_list(request: HttpRequest) -> HttpResponse:
    deployments = list(selectors.deployment_list(user=request.user))
    holdings = overview.holdings_of(user=request.user, deployments=deployments, now=clock.now())
    rows = [{"deployment": deployment, "holdings": holdings[deployment.pk], "kind": overview.money_kind(deployment),
             "kind_label": overview.KIND_LABELS[overview.money_kind(deployment)]} for deployment in deployments]
    context = context_for(request, page_title=_("Deployments"), rows=rows)
    return render(request, "trading/live/list.html", context)


# -- the go-live wizard --------------------------------------------------------------------------
class _DryRun(Exception):
    """Undoes a trial creation: the services' checks answer, nothing is kept."""

    def __init__(self, blocked: dict[str, str]) -> None:
        super().__init__()
        self.blocked = blocked


def _create(request: HttpRequest, data: dict[str, Any]) -> Deployment:
    return services.deployment_create(
        actor=Actor.from_request(request), strategy=data["strategy"], account=data["account"], name=data["name"],
        capital=data["capital"], timing=data["timing"], interval_minutes=data.get("interval_minutes"),
        symbols=data["symbols"] or None)


def _trial(request: HttpRequest, data: dict[str, Any]) -> tuple[ApplicationError | None, dict[str, str]]:
    """The services' verdict on creating this deployment, without keeping it: their refusal, or
    the symbols another deployment already owns in the account (``claims_blocked``)."""
    try:
        with transaction.atomic():
            raise _DryRun(services.claims_blocked(_create(request, data)))
    except _DryRun as trial:
        return None, trial.blocked
    except ApplicationError as error:
        return error, {}


def setup_key(first: dict[str, Any]) -> str:
    """Which strategy and account the step-2 fields were filled for (they ride along on the way back
    to step 1, and are dropped when the user picks another strategy or account there)."""
    return f"{first['strategy'].pk}:{first['account'].pk}"


def _setup_initial(request: HttpRequest, first: dict[str, Any]) -> dict[str, Any]:
    strategy, account = first["strategy"], first["account"]
    free = overview.capital_free(user=request.user, account=account,
                                 equity=services.account_equity(account))
    return {"name": strategy.name, "symbols": strategy.universe_codes(), "capital": free or None}


def _review_context(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    strategy, account = data["strategy"], data["account"]
    symbols = data["symbols"] or strategy.universe_codes()
    return {"strategy": strategy, "account": account, "kind": overview.account_kind(account),
            "kind_label": overview.KIND_LABELS[overview.account_kind(account)],
            "real_money": overview.account_kind(account) == overview.REAL,
            "mfa": is_mfa_enabled(request.user), "name": data["name"] or strategy.name, "capital": data["capital"],
            "symbols": [(code, name) for code, name in _named(symbols)],
            "timing_label": timing_label(data["timing"], data.get("interval_minutes")),
            "risk": strategy.engine_options(),
            "params": strategy.params}


def _named(codes: list[str]) -> list[tuple[str, str]]:
    names = market_selectors.instrument_names(codes=codes)
    return [(code, names.get(code, "")) for code in codes]


def _wizard(request: HttpRequest, step: int, form: Any, *, first: Any = None, setup: Any = None,
            review: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    chosen = getattr(first, "cleaned_data", None) or {}
    equity = free = None
    if step == 2 and chosen.get("account") is not None:
        equity = services.account_equity(chosen["account"])
        free = overview.capital_free(user=request.user, account=chosen["account"], equity=equity)
    context = context_for(
        request, page_title=_("Go live"), step=step, form=form, first=first, setup=setup, review=review,
        steps=list(STEP_TITLES.items()),
        # step 1 only; its strategy <select> reads the user's strategies anyway (kept on the form's field)
        has_strategies=step == 1 and next(iter(form.fields["strategy"].choices), None) is not None,
        setup_key=setup_key(chosen) if "strategy" in chosen and "account" in chosen else "",
        carried=_carried(request, step), equity=equity, free=free)
    return render(request, "trading/live/wizard.html", context, status=status)


def _carried(request: HttpRequest, step: int) -> list[tuple[str, str]]:
    """The fields of the other steps, as hidden inputs (the shown step's own fields are the form)."""
    if request.method != "POST":
        return []
    names = {1: forms.STEP2_FIELDS + ("setup_for",), 2: forms.STEP1_FIELDS, 3: forms.STEP1_FIELDS + forms.STEP2_FIELDS}
    return [(name, value) for name in names[step] for value in request.POST.getlist(name)]


def _wizard_error(request: HttpRequest, error: ApplicationError, first: Any, setup: Any) -> HttpResponse:
    """Back to the step holding the field the services refused, with their message on it."""
    step = STEP_OF_FIELD.get(error.field or "", 3)
    if step == 1:
        first.add_error(error.field, error.message)
        return _wizard(request, 1, first, status=400)
    if step == 2:
        setup.add_error(error.field, error.message)
        return _wizard(request, 2, setup, first=first, status=400)
    review = forms.ReviewStepForm(request.POST)
    review.is_valid()
    review.add_error(error.field if error.field in review.fields else None, error.message)
    data = {**first.cleaned_data, **setup.cleaned_data}
    return _wizard(request, 3, review, first=first, setup=setup, review=_review_context(request, data), status=400)


@login_required
def deployment_new(request: HttpRequest) -> HttpResponse:
    """GET: step 1. POST ``step=1|2|3``: show that step (the earlier steps' fields ride along);
    ``step=start``: create the deployment and start it, in one transaction (nothing is left behind
    when the start is refused)."""
    user = request.user
    if request.method != "POST":
        initial = {name: request.GET[name] for name in ("strategy", "account") if request.GET.get(name)}
        return _wizard(request, 1, forms.StrategyStepForm(user=user, initial=initial))
    step = request.POST.get("step", "2")
    first = forms.StrategyStepForm(request.POST, user=user)
    if not first.is_valid() or step == "1":
        return _wizard(request, 1, first, status=200 if first.is_valid() else 400)
    if request.POST.get("setup_for") != setup_key(first.cleaned_data):  # a new choice: its defaults
        setup = forms.SetupStepForm(initial=_setup_initial(request, first.cleaned_data))
        return _wizard(request, 2, setup, first=first)
    setup = forms.SetupStepForm(request.POST)
    if not setup.is_valid():
        return _wizard(request, 2, setup, first=first, status=400)
    if step == "2":
        return _wizard(request, 2, setup, first=first)
    data = {**first.cleaned_data, **setup.cleaned_data}
    if step == "3":
        error, blocked = _trial(request, data)
        if error is not None:
            return _wizard_error(request, error, first, setup)
        review = {**_review_context(request, data), "claims_blocked": sorted(blocked.items())}
        return _wizard(request, 3, forms.ReviewStepForm(), first=first, setup=setup, review=review)
    return _start_new(request, first, setup, data)


def _start_new(request: HttpRequest, first: Any, setup: Any, data: dict[str, Any]) -> HttpResponse:
    review = forms.ReviewStepForm(request.POST)
    review.is_valid()
    try:
        with transaction.atomic():
            deployment = _create(request, data)
            deployment = services.deployment_start(
                actor=Actor.from_request(request), deployment=deployment,
                confirm_real=review.cleaned_data.get("confirm_real", False),
                otp_code=review.cleaned_data.get("otp_code", ""), request=request)
    except ApplicationError as error:
        return _wizard_error(request, error, first, setup)
    message = STARTED if deployment.real_money else STARTED_PAPER
    messages.success(request, message.format(name=deployment.name))
    return redirect("trading:deployment_detail", pk=deployment.pk)


# -- one deployment ------------------------------------------------------------------------------
def _strategy_changed(deployment: Deployment) -> bool:
    if not deployment.strategy_type:
        return False
    strategy = deployment.strategy
    current = {"strategy_type": strategy.strategy_type, "params": dict(strategy.params),
               "risk": strategy.engine_options()}
    snapshot = {"strategy_type": deployment.strategy_type, "params": deployment.params,
                "risk": {key: list(value) if isinstance(value, tuple) else value
                         for key, value in deployment.risk.items()}}
    current["risk"] = {key: list(value) if isinstance(value, tuple) else value for key, value in current["risk"].items()}
    return current != snapshot


def _render_detail(request: HttpRequest, deployment: Deployment, *, control: str = "",
                   control_form: Any = None, status: int = 200) -> HttpResponse:
    from trading.live.drift import engine_runs_shared

    # the drift report and the chart's backtest curve: one engine run, reused by the next request
    # while its inputs (bar files, lots, the deployment's snapshot, the window) are the same
    with engine_runs_shared(kept=True):
        return _detail_page(request, deployment, control=control, control_form=control_form, status=status)


def _detail_page(request: HttpRequest, deployment: Deployment, *, control: str, control_form: Any,
                 status: int) -> HttpResponse:
    user, now = request.user, clock.now()
    holdings = overview.holdings_of(user=user, deployments=[deployment], now=now)[deployment.pk]
    kind = overview.money_kind(deployment)
    blocked = services.claims_blocked(deployment) if deployment.state != DeploymentState.STOPPED else {}
    context = context_for(
        request, page_title=deployment.name, deployment=deployment, kind=kind,
        kind_label=overview.KIND_LABELS[kind], holdings=holdings,
        timing_label=timing_label(deployment.timing, deployment.interval_minutes),
        signal_day=overview.signals_of_day(user=user, deployment=deployment, now=now),
        orders=overview.deployment_orders(user=user, deployment=deployment),
        curve=overview.equity_curve(user=user, deployment=deployment),
        claims_blocked=sorted(blocked.items()), symbols=_named(deployment.symbols),
        strategy_changed=_strategy_changed(deployment), mfa=is_mfa_enabled(user),
        confirm_form=control_form if control_form is not None else forms.ReviewStepForm(), control=control,
        can_start=deployment.state in (DeploymentState.DRAFT, DeploymentState.STOPPED),
        can_pause=deployment.state == DeploymentState.RUNNING,
        can_resume=deployment.state in (DeploymentState.PAUSED, DeploymentState.HALTED),
        can_stop=deployment.state != DeploymentState.STOPPED,
        can_edit=deployment.state != DeploymentState.STOPPED,
        drift_template=DRIFT_TEMPLATE if _has_template(DRIFT_TEMPLATE) else "")
    return render(request, "trading/live/detail.html", context, status=status)


@login_required
def deployment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _deployment_or_404(request, pk))


def _confirmed_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Start or resume: the real-money confirmation and the 2FA code ride along."""
    deployment = _deployment_or_404(request, pk)
    form = forms.ReviewStepForm(request.POST)
    form.is_valid()
    service = services.deployment_start if action == "start" else services.deployment_resume
    try:
        deployment = service(actor=Actor.from_request(request), deployment=deployment,
                             confirm_real=form.cleaned_data.get("confirm_real", False),
                             otp_code=form.cleaned_data.get("otp_code", ""), request=request)
    except ApplicationError as error:
        if error.field in form.fields:
            form.add_error(error.field, error.message)
            return _render_detail(request, deployment, control=action, control_form=form, status=400)
        messages.error(request, error.message)
        return redirect("trading:deployment_detail", pk=deployment.pk)
    if action == "resume":
        messages.success(request, RESUMED.format(name=deployment.name))
    else:
        messages.success(request, (STARTED if deployment.real_money else STARTED_PAPER).format(name=deployment.name))
    return redirect("trading:deployment_detail", pk=deployment.pk)


@login_required
@require_POST
def deployment_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _confirmed_action(request, pk, "start")


@login_required
@require_POST
def deployment_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _confirmed_action(request, pk, "resume")


@login_required
@require_POST
def deployment_pause(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _deployment_or_404(request, pk)
    form = forms.PauseForm(request.POST)
    form.is_valid()
    try:
        deployment = services.deployment_pause(actor=Actor.from_request(request), deployment=deployment,
                                               reason=form.cleaned_data.get("reason", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, PAUSED.format(name=deployment.name))
    return redirect("trading:deployment_detail", pk=deployment.pk)


@login_required
@require_POST
def deployment_stop(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _deployment_or_404(request, pk)
    form = forms.StopForm(request.POST)
    form.is_valid()
    closing = form.cleaned_data.get("close_positions", False)
    try:
        deployment = services.deployment_stop(actor=Actor.from_request(request), deployment=deployment,
                                              close_positions=closing)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, (STOPPED_CLOSING if closing else STOPPED).format(name=deployment.name))
    return redirect("trading:deployment_detail", pk=deployment.pk)


# -- the edit form -------------------------------------------------------------------------------
def _edit_initial(deployment: Deployment) -> dict[str, Any]:
    return {name: getattr(deployment, name) for name in forms.STEP2_FIELDS}


def _changes(deployment: Deployment, data: dict[str, Any]) -> dict[str, Any]:
    """Only what differs: an unchanged capital is not checked against the equity again."""
    values = {name: data.get(name) for name in forms.STEP2_FIELDS if data.get(name) != getattr(deployment, name)}
    if values.get("interval_minutes") is None and data.get("timing") != "interval":
        values.pop("interval_minutes", None)
    return values


@login_required
def deployment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    deployment = _deployment_or_404(request, pk)
    if deployment.state == DeploymentState.STOPPED:
        messages.error(request, _("A stopped deployment cannot be changed."))
        return redirect("trading:deployment_detail", pk=deployment.pk)
    form = forms.EditForm(request.POST or None, initial=_edit_initial(deployment))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            values = _changes(deployment, form.cleaned_data)
            apply_strategy = form.cleaned_data["apply_strategy"]
            if not values and not apply_strategy:
                messages.info(request, NOTHING_CHANGED)
                return redirect("trading:deployment_detail", pk=deployment.pk)
            try:
                deployment = services.deployment_update(actor=Actor.from_request(request), deployment=deployment,
                                                        apply_strategy=apply_strategy, **values)
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, SAVED.format(name=deployment.name))
                return redirect("trading:deployment_detail", pk=deployment.pk)
    equity = services.account_equity(deployment.account)
    context = context_for(request, page_title=_("Change “{name}”").format(name=deployment.name),
                          deployment=deployment, form=form, strategy_changed=_strategy_changed(deployment),
                          equity=equity, free=overview.capital_free(user=request.user, account=deployment.account,
                                                                    equity=equity, excluding=deployment.pk))
    return render(request, "trading/live/edit.html", context, status=status)
