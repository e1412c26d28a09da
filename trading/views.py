"""Pages under 거래 (Trading): broker accounts (list, connect, paper, account page, verify, rotate,
rename, order limits, delete). Doors only: parse, fetch through a selector (404 for what is not yours), call a
service, render."""

from __future__ import annotations

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from core.audit import Actor
from core.errors import ApplicationError
from trading import selectors, services
from trading.forms import ConnectForm, LimitsForm, PaperForm, RenameForm, RotateForm

CONNECTED = _("%(name)s is connected and verified.")
PAPER_OPENED = _("%(name)s is open with %(cash)s KRW of virtual money.")
VERIFIED = _("%(name)s was verified with the broker.")
VERIFY_FAILED = _("Verification failed: %(reason)s")
ROTATED = _("The keys of %(name)s were replaced and verified.")
RENAMED = _("Renamed to %(name)s.")
DELETED = _("%(name)s was deleted.")
LIMITS_SAVED = _("The order limits of %(name)s were saved.")


def _form_error(form: django_forms.Form, error: ApplicationError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@login_required
def index(request: HttpRequest) -> HttpResponse:
    accounts = list(selectors.broker_account_list(user=request.user))
    rows = [{"account": account, "balance": selectors.balance_view(account)} for account in accounts]
    return render(request, "trading/index.html", {"page_title": _("Trading"), "nav": "trading", "rows": rows})


@login_required
def connect(request: HttpRequest) -> HttpResponse:
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.broker_account_connect(actor=Actor.from_request(request), owner=request.user,
                                                      **form.cleaned_data)
        except ApplicationError as error:
            _form_error(form, error)
        else:
            messages.success(request, CONNECTED % {"name": account.nickname})
            return redirect("trading:account", pk=account.pk)
    return render(request, "trading/connect.html", {"page_title": _("Connect a broker account"), "nav": "trading",
                                                    "form": form})


@login_required
def paper(request: HttpRequest) -> HttpResponse:
    form = PaperForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = services.broker_account_open_paper(actor=Actor.from_request(request), owner=request.user,
                                                         **form.cleaned_data)
        except ApplicationError as error:
            _form_error(form, error)
        else:
            messages.success(request, PAPER_OPENED % {"name": account.nickname,
                                                      "cash": f"{account.paper_initial_cash:,.0f}"})
            return redirect("trading:account", pk=account.pk)
    return render(request, "trading/paper.html", {"page_title": _("Open a paper account"), "nav": "trading",
                                                  "form": form})


def _account_page(request: HttpRequest, broker_account, *, limits_form: LimitsForm | None = None) -> HttpResponse:
    context = {
        "page_title": broker_account.nickname, "nav": "trading", "account": broker_account,
        "balance": selectors.balance_view(broker_account), "rename_form": RenameForm(
            initial={"nickname": broker_account.nickname}),
        "limits_form": limits_form or LimitsForm(initial={"max_order_value": broker_account.max_order_value,
                                                          "max_position_share": broker_account.max_position_share}),
    }
    return render(request, "trading/account.html", context)


@login_required
def account(request: HttpRequest, pk: int) -> HttpResponse:
    return _account_page(request, selectors.broker_account_get(user=request.user, pk=pk))


@login_required
@require_POST
def verify(request: HttpRequest, pk: int) -> HttpResponse:
    broker_account = selectors.broker_account_get(user=request.user, pk=pk)
    outcome = services.broker_account_verify(actor=Actor.from_request(request), account=broker_account)
    if outcome.ok:
        messages.success(request, VERIFIED % {"name": broker_account.nickname})
    else:
        from trading.messages import explain

        messages.error(request, VERIFY_FAILED % {"reason": explain(outcome.error)})
    return redirect("trading:account", pk=pk)


@login_required
def rotate(request: HttpRequest, pk: int) -> HttpResponse:
    broker_account = selectors.broker_account_get(user=request.user, pk=pk)
    form = RotateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.broker_account_rotate_keys(actor=Actor.from_request(request), account=broker_account,
                                                **form.cleaned_data)
        except ApplicationError as error:
            _form_error(form, error)
        else:
            messages.success(request, ROTATED % {"name": broker_account.nickname})
            return redirect("trading:account", pk=pk)
    return render(request, "trading/rotate.html", {"page_title": _("Rotate keys"), "nav": "trading",
                                                   "account": broker_account, "form": form})


@login_required
@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    broker_account = selectors.broker_account_get(user=request.user, pk=pk)
    form = RenameForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(" ".join(form.errors.get("nickname", [])), field="nickname")
        services.broker_account_rename(actor=Actor.from_request(request), account=broker_account,
                                       nickname=form.cleaned_data["nickname"])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, RENAMED % {"name": broker_account.nickname})
    return redirect("trading:account", pk=pk)


@login_required
@require_POST
def limits(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the account's own order limits; a wrong value shows on its field of the account page."""
    broker_account = selectors.broker_account_get(user=request.user, pk=pk)
    form = LimitsForm(request.POST)
    if form.is_valid():
        try:
            services.broker_account_limits_set(actor=Actor.from_request(request), account=broker_account,
                                               **form.cleaned_data)
        except ApplicationError as error:
            _form_error(form, error)
        else:
            messages.success(request, LIMITS_SAVED % {"name": broker_account.nickname})
            return redirect("trading:account", pk=pk)
    return _account_page(request, broker_account, limits_form=form)


@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    broker_account = selectors.broker_account_get(user=request.user, pk=pk)
    if request.method == "POST":
        name = broker_account.nickname
        try:
            services.broker_account_delete(actor=Actor.from_request(request), account=broker_account)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("trading:account", pk=pk)
        messages.success(request, DELETED % {"name": name})
        return redirect("trading:index")
    return render(request, "trading/confirm_delete.html", {"page_title": _("Delete account"), "nav": "trading",
                                                           "account": broker_account})
