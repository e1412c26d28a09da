"""Pages of the order ledger under 거래 (Trading): 주문 (the live order list and an order's page) and
the order ticket (``account_views``: 잔고 and the kill switches).

Doors only: parse (``trading.orders.forms``), read through the owner-scoped selectors (another
user's order or account is a 404), call the one door for orders (``place.order_place``) or a service,
render. Every action is a POST with CSRF; a refusal lands on its field or at the top of the form.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy as _, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core import clock
from core.audit import Actor
from core.errors import ApplicationError, NotFound
from marketdata import selectors as market_selectors
from trading import risk
from trading import selectors as account_selectors
from trading.orders import forms, place, selectors, services, tables, ticket
from trading.killswitch import kill_switch_state
from trading.orders.models import Order, OrderState
from trading.orders.states import OPEN, UNRESOLVED, State

PAGE_SIZE = 50
# what a row of the order list shows (``tables.order_rows_html``, ``can_cancel``, ``type_label``, the state
# badge): an order has some forty columns, and loading the rest took a third of the list's queries' time
LIST_FIELDS = ("account__nickname", "symbol", "side", "order_type", "quantity", "price", "state", "filled_quantity",
               "average_fill_price", "external", "flag", "cancel_requested_at", "created_at")
SYMBOL_RESULTS = 12

CANCEL_ASKED = _("Cancel requested for order #%(id)s.")
CANCEL_WAITS = _("Order #%(id)s may have reached the broker: the cancel goes out once that is settled.")
CANCELLED = _("Order #%(id)s was cancelled before it was sent.")
ALREADY_PLACED = _("This ticket already placed order #%(id)s; it was not placed again.")
TICKET_USED = _("This ticket already placed order #%(id)s. Check the new order below and review it again.")
PLACED = _("Order #%(id)s was placed: %(side)s %(quantity)s %(symbol)s.")
REVISE_ASKED = _("The revision of order #%(id)s is on its way to the broker.")

# who acted, as the timeline names them (``timeline.actor_label``)
ACTOR_LABELS = {
    "user": _("You"), "admin": _("An administrator"), "strategy": _("A strategy"),
    "order submission": _("Order submission"), "order cancellation": _("Order cancellation"),
    "order revision": _("Order revision"), "reconciliation": _("Reconciliation with the broker"),
    "fills": _("Fill report"), "system": _("The platform"),
}
# order types as a trader says them (the model's "Market" shares its msgid with the market pages)
TYPE_LABELS = {"limit": pgettext_lazy("order type", "Limit"), "market": pgettext_lazy("order type", "Market")}
CANCELLABLE = {State.NEW, State.SUBMITTING, State.UNKNOWN, State.ACCEPTED, State.PARTIALLY_FILLED}


def _order_or_404(request: HttpRequest, pk: int) -> Order:
    try:
        return selectors.order_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def type_label(order: Order) -> str:
    return str(TYPE_LABELS.get(order.order_type) or order.get_order_type_display())


def can_cancel(order: Order) -> bool:
    """The page offers a cancel: the order may still trade and no cancel is on its way."""
    return order.state in CANCELLABLE and order.cancel_requested_at is None




def context_for(request: HttpRequest, **values: Any) -> dict[str, Any]:
    return {"nav": "trading", "kill": kill_switch_state(user=request.user), **values}


# -- 주문: the list and one order ------------------------------------------------------------------
def _state_filter(value: str) -> list[str] | None:
    if value == forms.OPEN_STATES:
        return sorted(OPEN | UNRESOLVED | {State.NEW})
    return [value] if value else None


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    form = forms.OrderFilterForm(request.GET or None, user=request.user)
    form.is_valid()  # invalid fields show their error and filter nothing
    data = getattr(form, "cleaned_data", {})
    account = data.get("account")
    orders = selectors.order_list(user=request.user, account_id=account.pk if account else None,
                                  states=_state_filter(data.get("state", "")), symbol=data.get("symbol", ""),
                                  day=data.get("day"))
    page = Paginator(orders.only(*LIST_FIELDS), PAGE_SIZE).get_page(request.GET.get("page"))
    names = market_selectors.instrument_names(codes={order.symbol for order in page})
    rows = [{"order": order, "name": names.get(order.symbol, ""), "can_cancel": can_cancel(order),
             "type_label": type_label(order)} for order in page]
    query = request.GET.copy()
    query.pop("page", None)
    context = context_for(request, page_title=_("Orders"), form=form, rows=rows, page_obj=page, query=query.urlencode(),
                       rows_html=tables.order_rows_html(request=request, rows=rows),
                       filtered=any(data.get(name) for name in ("account", "state", "symbol", "day")),
                       has_accounts=account_selectors.broker_account_list(user=request.user).exists())
    return render(request, "trading/orders/list.html", context)


def _timeline(order: Order) -> list[dict[str, Any]]:
    entries = []
    for entry in selectors.order_timeline(order=order):
        if entry.kind == "fill":
            entries.append({"at": entry.at, "fill": entry.fill})
            continue
        event = entry.event
        entries.append({"at": entry.at, "event": event,
                        "from_label": OrderState(event.from_state).label if event.from_state else "",
                        "to_label": OrderState(event.to_state).label,
                        "note": event.from_state == event.to_state,
                        "actor": ACTOR_LABELS.get(event.actor_label, event.actor_label)})
    return entries


def _revise_service() -> Any:
    """The revise service (정정) when the ledger has one."""
    try:
        from trading.orders.revise import order_revise_request
    except ImportError:
        return getattr(services, "order_revise_request", None)
    return order_revise_request


def _can_revise(order: Order) -> bool:
    return (_revise_service() is not None and order.state in (State.ACCEPTED, State.PARTIALLY_FILLED)
            and order.order_type == "limit" and order.cancel_requested_at is None
            and getattr(order, "revise_requested_at", None) is None)


def _render_order(request: HttpRequest, order: Order, revise_form: forms.ReviseForm | None = None,
                  status: int = 200) -> HttpResponse:
    if revise_form is None and _can_revise(order):
        revise_form = forms.ReviseForm(initial={"price": order.price})
    context = context_for(request, page_title=_("Order #%(id)s") % {"id": order.pk}, order=order,
                       name=market_selectors.instrument_names(codes=[order.symbol]).get(order.symbol, ""),
                       timeline=_timeline(order), can_cancel=can_cancel(order), type_label=type_label(order),
                       revise_form=revise_form if _can_revise(order) else None,
                       replacements=list(order.replacements.all()))
    return render(request, "trading/orders/detail.html", context, status=status)


@login_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_order(request, _order_or_404(request, pk))


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order_or_404(request, pk)
    try:
        after = services.order_cancel_request(actor=Actor.from_request(request), order=order)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if after.state == State.CANCELLED:
            messages.success(request, CANCELLED % {"id": order.pk})
        elif after.state in UNRESOLVED:
            messages.info(request, CANCEL_WAITS % {"id": order.pk})
        else:
            messages.success(request, CANCEL_ASKED % {"id": order.pk})
    return redirect(safe_next(request, reverse("trading:order_detail", args=[order.pk])))


@login_required
@require_POST
def order_revise(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order_or_404(request, pk)
    revise = _revise_service()
    if revise is None:
        raise Http404
    form = forms.ReviseForm(request.POST)
    if form.is_valid():
        try:
            revise(actor=Actor.from_request(request), order=order, price=form.cleaned_data["price"],
                   quantity=form.cleaned_data["quantity"])
        except ApplicationError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, REVISE_ASKED % {"id": order.pk})
            return redirect("trading:order_detail", pk=order.pk)
    return _render_order(request, order, revise_form=form, status=400)


# -- the order ticket ------------------------------------------------------------------------------
def _ticket_initial(request: HttpRequest) -> dict[str, Any]:
    initial: dict[str, Any] = {}
    for name in ("account", "symbol", "side"):
        if request.GET.get(name):
            initial[name] = request.GET[name][:forms.SYMBOL_MAX]
    return initial


def _unknown_symbol(symbol: str) -> str:
    return risk.Failure("unknown_symbol", "symbol", {"symbol": symbol}).message_in(gettext)


def _refusals_on(form: forms.TicketForm, failures: list[dict[str, Any]], mode: str) -> None:
    """Each refusal under its field (a quantity refusal under the amount when sized by amount),
    the rest at the top of the form."""
    for failure in failures:
        field = failure["field"]
        if field == "quantity" and mode == forms.AMOUNT:
            field = "amount"
        if field == "order_type" and "order_type" not in form.fields:
            field = None
        form.add_error(field if field in form.fields else None, failure["message"])


def _render_ticket(request: HttpRequest, form: forms.TicketForm, info: ticket.SymbolInfo | None = None,
                   status: int = 200) -> HttpResponse:
    symbol = (form.data.get("symbol") if form.is_bound else form.initial.get("symbol")) or ""
    symbol = symbol.strip().upper()[:forms.SYMBOL_MAX]
    if info is None and symbol:
        info = ticket.symbol_info(symbol, now=clock.now())
    context = context_for(request, page_title=_("New order"), form=form, info=info,
                       info_json=info.as_json() if info is not None and info.known else None,
                       # the account <select> reads these rows anyway (kept on the form's field): no EXISTS first
                       has_accounts=next(iter(form.fields["account"].choices), None) is not None)
    return render(request, "trading/orders/ticket.html", context, status=status)


def _render_confirm(request: HttpRequest, form: forms.TicketForm, info: ticket.SymbolInfo, data: dict[str, Any],
                    quantity: Any, duplicate: list[dict[str, Any]]) -> HttpResponse:
    now = clock.now()
    confirmed = {**data, "mode": forms.QUANTITY, "quantity": quantity, "amount": None, "confirm": bool(duplicate),
                 "account": data["account"].pk}
    hidden = forms.TicketForm(initial=confirmed, user=request.user)
    context = context_for(request, page_title=_("Confirm the order"), form=hidden, info=info, data=data,
                       quantity=quantity, duplicate=duplicate,
                       estimate=ticket.estimate(info, side=data["side"], order_type=data["order_type"],
                                                quantity=quantity, price=data.get("price"), now=now),
                       from_amount=data["mode"] == forms.AMOUNT)
    return render(request, "trading/orders/confirm.html", context, status=409 if duplicate else 200)


@login_required
def order_ticket(request: HttpRequest) -> HttpResponse:
    """GET: the ticket. POST ``step=review``: the checks, then the confirmation with the estimate;
    ``step=place``: the order through the one door; ``step=edit``: back to the ticket."""
    if request.method != "POST":
        return _render_ticket(request, forms.TicketForm(initial=_ticket_initial(request), user=request.user))
    step = request.POST.get("step", "review")
    posted = request.POST.copy()
    if step != "place":  # only the confirmation step may say "place it anyway"
        posted.pop("confirm", None)
    form = forms.TicketForm(posted, user=request.user)
    if step == "edit" or not form.is_valid():
        return _render_ticket(request, form, status=200 if step == "edit" else 400)
    data = form.cleaned_data
    now = clock.now()
    info = ticket.symbol_info(data["symbol"], now=now)
    quantity, problem = ticket.prepare_quantity(info, data)
    if quantity is None:
        form.add_error("amount" if info.known else "symbol", problem or _unknown_symbol(data["symbol"]))
        return _render_ticket(request, form, info, status=400)
    return _place(request, form, info, data, quantity) if step == "place" else _review(request, form, info, data,
                                                                                      quantity)


def _review(request: HttpRequest, form: forms.TicketForm, info: ticket.SymbolInfo, data: dict[str, Any],
            quantity: Any) -> HttpResponse:
    failures, only_duplicate = place.order_check(
        account=data["account"], now=clock.now(),
        intent=risk.OrderIntent(data["symbol"], data["side"], quantity, data["order_type"], data.get("price")))
    if failures and not only_duplicate:
        _refusals_on(form, failures, data["mode"])
        return _render_ticket(request, form, info, status=400)
    return _render_confirm(request, form, info, data, quantity, failures)


def _same_order(order: Order, data: dict[str, Any], quantity: Any) -> bool:
    return (order.account_id, order.symbol, order.side, order.quantity, order.order_type, order.price) == (
        data["account"].pk, data["symbol"], data["side"], quantity, data["order_type"], data.get("price"))


def _place(request: HttpRequest, form: forms.TicketForm, info: ticket.SymbolInfo, data: dict[str, Any],
           quantity: Any) -> HttpResponse:
    # The same ticket sent again (a double click, the browser's back button) is the order it made.
    existing = selectors.order_list(user=request.user).filter(intent_id=data["intent_id"]).first()
    if existing is not None:
        if _same_order(existing, data, quantity):
            messages.info(request, ALREADY_PLACED % {"id": existing.pk})
            return redirect("trading:order_detail", pk=existing.pk)
        fresh = forms.TicketForm(initial={**data, "account": data["account"].pk, "intent_id": uuid.uuid4(),
                                          "confirm": False}, user=request.user)
        messages.warning(request, TICKET_USED % {"id": existing.pk})
        return _render_ticket(request, fresh, info, status=409)
    try:
        order = place.order_place(actor=Actor.from_request(request), account=data["account"],
                                  symbol=data["symbol"], side=data["side"], quantity=quantity,
                                  order_type=data["order_type"], price=data.get("price"), confirm=data["confirm"],
                                  intent_id=data["intent_id"])
    except place.OrderRefused as refused:
        if refused.needs_confirmation:
            return _render_confirm(request, form, info, data, quantity, refused.failures)
        _refusals_on(form, refused.failures, data["mode"])
        return _render_ticket(request, form, info, status=400)
    except ApplicationError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _render_ticket(request, form, info, status=400)
    messages.success(request, PLACED % {"id": order.pk, "side": order.get_side_display(),
                                        "quantity": f"{order.quantity.normalize():,f}", "symbol": order.symbol})
    return redirect("trading:order_detail", pk=order.pk)


@login_required
@require_GET
def ticket_symbols(request: HttpRequest) -> HttpResponse:
    """The ticket's symbol search (htmx, as the user types): buttons that pick a symbol."""
    query = (request.GET.get("q") or request.GET.get("symbol") or "").strip()[:50]
    results = list(market_selectors.instrument_search(query=query, limit=SYMBOL_RESULTS)) if query else []
    return render(request, "trading/orders/_symbol_results.html", {"query": query, "results": results})


@login_required
@require_GET
def ticket_symbol(request: HttpRequest) -> JsonResponse:
    """One symbol's prices and tick table (JSON) for the ticket's script; 404 when unknown."""
    symbol = request.GET.get("symbol", "").strip().upper()[:forms.SYMBOL_MAX]
    info = ticket.symbol_info(symbol, now=clock.now()) if symbol else None
    if info is None or not info.known:
        return JsonResponse({"error": _unknown_symbol(symbol)}, status=404)
    return JsonResponse(info.as_json())
