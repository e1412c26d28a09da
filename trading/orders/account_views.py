"""Pages of the order ledger about accounts: 잔고 (positions and P&L, fills and their CSV, checking
an account with its broker now, accepting the broker's figures for a mismatched position) and the
kill switches. Doors only, as ``trading.orders.views``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from core import clock, csvfile
from core.audit import Actor
from core.errors import ApplicationError
from marketdata import selectors as market_selectors
from marketdata.calendars import SEOUL
from trading import killswitch
from trading import selectors as account_selectors
from trading.orders import forms, portfolio, selectors, tables
from trading.orders.models import KillSwitchScope
from trading.orders.views import context_for, safe_next

FILLS_SHOWN = 200
RECONCILE_PAUSE = 10  # seconds: one on-demand reconciliation per account in this time
RECONCILE_ASKED = _("Checking %(name)s with the broker: orders, fills and positions update as the answers arrive.")
RECONCILE_RECENT = _("%(name)s was checked with the broker a moment ago; the results are on their way.")
RESOLVED = _("%(symbol)s now follows the broker's figures.")
PULLED = _("Kill switch on: no new orders for %(target)s.")
RELEASED = _("Kill switch released: %(target)s can place orders again.")
ALL_ACCOUNTS = _("all your accounts")


# -- 잔고: positions, P&L, fills --------------------------------------------------------------------
@login_required
def positions(request: HttpRequest) -> HttpResponse:
    accounts = list(account_selectors.broker_account_list(user=request.user))
    form = forms.FillFilterForm(request.GET or None, user=request.user)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    account = data.get("account") or (accounts[0] if accounts else None)
    context = context_for(request, page_title=_("Positions & P&L"), form=form, accounts=accounts, account=account)
    if account is not None:
        span = {} if form.errors else {"start": data.get("start"), "end": data.get("end")}
        totals = portfolio.position_rows(user=request.user, account_id=account.pk, now=clock.now())
        # the table shows no field of the fill's order or account: no join beyond the owner's filter
        newest = list(selectors.fill_list(user=request.user, account_id=account.pk, **span)
                      .select_related(None)[:FILLS_SHOWN])
        # the names of the positions' symbols are known: look up only those of the other fills
        names = {row.symbol: row.name for row in totals.rows}
        missing = {fill.symbol for fill in newest} - names.keys()
        if missing:
            names.update(market_selectors.instrument_names(codes=missing))
        fills = [(fill, names.get(fill.symbol, "")) for fill in newest]
        context.update(totals=totals, fills=fills, fills_shown=FILLS_SHOWN,
                       position_rows_html=tables.position_rows_html(request=request, account_id=account.pk,
                                                                    rows=totals.rows),
                       fill_rows_html=tables.fill_rows_html(fills=fills),
                       reconciliation=getattr(account, "order_reconciliation", None),
                       csv_query=request.GET.urlencode() or f"account={account.pk}")
    return render(request, "trading/orders/positions.html", context)


CSV_CHUNK = 64 * 1024  # characters per streamed piece
CSV_HEADER = ["filled_at", "account", "order_id", "broker_order_no", "symbol", "side", "quantity", "price", "value",
              "commission", "tax", "costs_estimated", "source"]


def _csv_chunks(fills: Any) -> Iterator[str]:
    """The file in chunks (a long history streams); cells are kept from running as formulas."""
    buffer = io.StringIO()
    buffer.write(csvfile.BOM)
    writer = csvfile.Writer(buffer)
    writer.writerow(CSV_HEADER)
    for fill in fills.iterator(chunk_size=500):
        writer.writerow([
            timezone.localtime(fill.filled_at, SEOUL).isoformat(), fill.account.nickname, fill.order_id,
            fill.order.broker_order_no, fill.symbol, fill.side, f"{fill.quantity.normalize():f}",
            f"{fill.price.normalize():f}", f"{fill.value.normalize():f}", f"{fill.commission.normalize():f}",
            f"{fill.tax.normalize():f}", "yes" if fill.costs_estimated else "no", fill.source])
        if buffer.tell() > CSV_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@login_required
@require_GET
def fills_csv(request: HttpRequest) -> HttpResponse:
    """The account's fills in the date range as CSV; bad filters go back to the page's form."""
    form = forms.FillFilterForm(request.GET, user=request.user)
    if not form.is_valid() or form.cleaned_data.get("account") is None:
        return redirect(f"{reverse('trading:positions')}?{request.GET.urlencode()}")
    data = form.cleaned_data
    fills = selectors.fill_list(user=request.user, account_id=data["account"].pk, start=data.get("start"),
                                end=data.get("end"))
    span = "-".join(day.isoformat() for day in (data.get("start"), data.get("end")) if day) or "all"
    response = StreamingHttpResponse(_csv_chunks(fills), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="fills-{data["account"].pk}-{span}.csv"'
    return response


@login_required
@require_POST
def account_reconcile(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the account with its broker now (the reconciliation job), at most once in a few seconds."""
    from trading.orders import tasks

    account = account_selectors.broker_account_get(user=request.user, pk=pk)
    if cache.add(f"orders:reconcile-asked:{account.pk}", 1, timeout=RECONCILE_PAUSE):
        tasks.orders_reconcile_account.delay(account.pk)
        messages.info(request, RECONCILE_ASKED % {"name": account.nickname})
    else:
        messages.info(request, RECONCILE_RECENT % {"name": account.nickname})
    return redirect(safe_next(request, f"{reverse('trading:positions')}?account={account.pk}"))


@login_required
@require_POST
def position_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept the broker's figures for a mismatched position of the user's, with a reason."""
    from trading.orders.adjust import position_resolve as resolve

    position = selectors.position_list(user=request.user, held_only=False).filter(pk=pk).first()
    if position is None:
        raise Http404
    form = forms.ResolveForm(request.POST)
    try:
        if not form.is_valid():
            raise ApplicationError(" ".join(form.errors.get("reason", [])), field="reason")
        resolve(actor=Actor.from_request(request), position=position, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, RESOLVED % {"symbol": position.symbol})
    return redirect(f"{reverse('trading:positions')}?account={position.account_id}")


# -- kill switches ----------------------------------------------------------------------------------
def _switch(form: forms.KillSwitchForm, request: HttpRequest) -> None:
    """Pull or release what ``form`` names and say so. Raises ``ApplicationError``."""
    data = form.cleaned_data
    account = data.get("account")
    target = {"scope": KillSwitchScope.ACCOUNT, "account": account} if account else {
        "scope": KillSwitchScope.USER, "user": request.user}
    actor = Actor.from_request(request)
    name = account.nickname if account else str(ALL_ACCOUNTS)
    if data["action"] == form.PULL:
        killswitch.kill_switch_pull(actor=actor, reason=data["reason"],
                                    cancel_open_orders=data["cancel_open_orders"], **target)
        messages.warning(request, PULLED % {"target": name})
        return
    killswitch.kill_switch_release(actor=actor, reason=data["reason"], **target)
    messages.success(request, RELEASED % {"target": name})


@login_required
def kill_switches(request: HttpRequest) -> HttpResponse:
    """Each account's switch and the one for all the user's accounts: state, pull, release."""
    failed: forms.KillSwitchForm | None = None
    if request.method == "POST":
        form = forms.KillSwitchForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                _switch(form, request)
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                return redirect("trading:kill_switches")
        failed = form
    context = context_for(request, page_title=_("Kill switches"))
    failed_account = failed.data.get("account", "") if failed is not None else None
    switches = context["kill"]["accounts"]
    context["cards"] = [{"account": account, "switch": switches.get(account.pk),
                         "form": failed if failed_account == str(account.pk) else None}
                        for account in account_selectors.broker_account_list(user=request.user)]
    context["user_form"] = failed if failed is not None and not failed_account else None
    shown = context["user_form"] is not None or any(card["form"] for card in context["cards"])
    # a form naming no account of the user's (another user's, say) still says what was wrong
    context["top_errors"] = [] if failed is None or shown else [
        error for errors in failed.errors.values() for error in errors]
    return render(request, "trading/orders/kill_switches.html", context, status=400 if failed else 200)

