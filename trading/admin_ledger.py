"""The order ledger in the operators' console: orders, positions and reconciliations, read-only.

Unknown, stuck and external orders at a glance (the list opens on "needs attention"); the order
page shows its timeline. Orders change only through the ledger's services: "reconcile now" and
"cancel", audited as the admin acting for the owner; a mismatched position takes the broker's
figures once the admin says why (``trading.orders.adjust``).
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import clock
from core.admin import ReadOnlyAdmin
from core.errors import ApplicationError
from trading.admin import (AMBER, BLUE, GREEN, GREY, ORANGE, RED, Styled, admin_actor, badge, can_operate,
                           reconcile_accounts, reconciliation_badge)
from trading.models import BrokerAccount
from trading.orders import selectors as order_selectors
from trading.orders import services as order_services
from trading.orders.adjust import position_resolve
from trading.orders.models import Order, Position, Reconciliation
from trading.orders.states import State

STATE_COLOURS = {
    State.NEW: GREY, State.SUBMITTING: ORANGE, State.ACCEPTED: BLUE, State.PARTIALLY_FILLED: BLUE,
    State.FILLED: GREEN, State.CANCEL_REQUESTED: AMBER, State.CANCELLED: GREY, State.EXPIRED: GREY,
    State.REJECTED: RED, State.UNKNOWN: RED, State.NOT_PLACED: GREY,
}


def needs_attention(now) -> Q:
    """Orders an operator should look at: unknown, still sending after their lease, placed outside
    the platform, or flagged by the ledger."""
    return (Q(state=State.UNKNOWN) | Q(state=State.SUBMITTING, lease_until__lt=now) | Q(external=True)
            | ~Q(flag=""))


class AttentionFilter(admin.SimpleListFilter):
    """The list opens on "needs attention"; a search or any other filter shows every order."""

    title = gettext_lazy("attention")
    parameter_name = "attention"
    NEEDS, ALL = "needs", "all"
    NOT_NARROWING = {"p", "o", "e", "_popup", "_to_field", parameter_name}

    def __init__(self, request, params, model, model_admin) -> None:
        self.narrowed = any(key not in self.NOT_NARROWING for key in request.GET)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(self.NEEDS, _("Needs attention")), (self.ALL, _("All orders"))]

    def value(self) -> str:
        return super().value() or (self.ALL if self.narrowed else self.NEEDS)

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {"selected": self.value() == lookup, "display": title,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup})}

    def queryset(self, request, queryset):
        return queryset.filter(needs_attention(clock.now())) if self.value() == self.NEEDS else queryset


ORDER_FIELDSETS = [
    (None, {"fields": ["owner", "account", "source", "external", "flag", "intent_id"]}),
    (gettext_lazy("Order"), {"fields": ["symbol", "side", "quantity", "order_type", "price", "replaces"]}),
    (gettext_lazy("At the broker"), {"fields": [
        "state", "broker_order_no", "broker_org_no", "order_day", "reject_code", "reject_reason", "submitted_at",
        "lease_until", "acknowledged_at", "unknown_since", "missed_lookups", "closed_at"]}),
    (gettext_lazy("Fills, cancel and revision"), {"fields": [
        "filled_quantity", "filled_amount", "average_fill_price", "cancelled_quantity", "cancel_requested_at",
        "cancel_sent_at", "revise_price", "revise_quantity", "revise_requested_at", "revise_sent_at"]}),
    (gettext_lazy("Timeline"), {"fields": ["timeline"]}),
]


@admin.register(Order)
class OrderAdmin(Styled, ReadOnlyAdmin):
    list_display = ["id", "owner", "account", "source", "symbol", "side", "quantity", "price", "state_badge",
                    "attention", "filled_quantity", "broker_order_no", "created_at"]
    list_filter = [AttentionFilter, "state", "source", "external", "account__broker", "side", "order_day"]
    # a UUID searches the intent id (get_search_results); the broker's number by its end (KIS pads it)
    search_fields = ["symbol", "broker_order_no__endswith", "owner__email", "id__exact"]
    list_select_related = ["owner", "account"]
    date_hierarchy = "created_at"
    actions = ["reconcile_now", "cancel_orders"]
    fieldsets = ORDER_FIELDSETS
    readonly_fields = [name for _title, options in ORDER_FIELDSETS for name in options["fields"]]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return can_operate(self, request)

    def get_search_results(self, request, queryset, search_term):
        try:
            intent = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(intent_id=intent), False

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, order: Order) -> str:
        return badge(order.get_state_display(), STATE_COLOURS.get(order.state, GREY), order.reject_reason)

    @admin.display(description=gettext_lazy("attention"))
    def attention(self, order: Order) -> str:
        marks = []
        if order.state == State.UNKNOWN:
            marks.append(badge(_("unknown"), RED, _("Waiting for reconciliation to find it at the broker.")))
        if order.state == State.SUBMITTING and order.lease_until is not None and order.lease_until < clock.now():
            marks.append(badge(_("lease over"), ORANGE, _("No answer recorded within the lease.")))
        if order.external:
            marks.append(badge(_("external"), AMBER, _("Placed outside the platform (HTS/MTS).")))
        if order.flag and not order.external:
            marks.append(badge(_("flagged"), RED, order.flag))
        return format_html(" ".join(["{}"] * len(marks)), *marks) if marks else ""

    @admin.display(description=gettext_lazy("timeline"))
    def timeline(self, order: Order) -> str:
        return render_to_string("admin/trading/order/_timeline.html",
                                {"entries": order_selectors.order_timeline(order=order)})

    @admin.action(description=gettext_lazy("Reconcile the selected orders' accounts with their brokers now"),
                  permissions=["operate"])
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        reconcile_accounts(self, request, BrokerAccount.objects.filter(pk__in=queryset.values("account_id")))

    @admin.action(description=gettext_lazy("Cancel the selected orders (as the admin, for their owners)"),
                  permissions=["operate"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        actor = admin_actor(request)
        asked, external, closed = 0, 0, 0
        for order in queryset.order_by("pk"):
            if order.external:  # never cancelled by the platform: the owner placed it elsewhere
                external += 1
                continue
            try:
                order_services.order_cancel_request(actor=actor, order=order)
            except ApplicationError:
                closed += 1
                continue
            asked += 1
        self.message_user(request, _("Cancel requested for %(count)d orders.") % {"count": asked})
        if external:
            self.message_user(request, _("%(count)d orders placed outside the platform were left alone: they are "
                                         "cancelled where they were placed.") % {"count": external}, messages.WARNING)
        if closed:
            self.message_user(request, _("%(count)d orders were already closed.") % {"count": closed},
                              messages.WARNING)


class ResolveForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Why the broker's figures are right (kept in the audit log)."))


@admin.register(Position)
class PositionAdmin(Styled, ReadOnlyAdmin):
    list_display = ["account", "symbol", "quantity", "cost", "realized_pnl", "broker_quantity",
                    "broker_average_price", "mismatch_badge", "mismatch_note", "broker_checked_at"]
    list_filter = ["mismatch", "account__broker"]
    search_fields = ["symbol", "account__owner__email", "account__nickname"]
    list_select_related = ["account"]
    actions = ["reconcile_now", "resolve_mismatch"]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return can_operate(self, request)

    @admin.display(description=gettext_lazy("mismatch"), ordering="mismatch")
    def mismatch_badge(self, position: Position) -> str:
        return badge(_("differs from the broker"), RED, position.mismatch_note) if position.mismatch else ""

    @admin.action(description=gettext_lazy("Reconcile the selected positions' accounts with their brokers now"),
                  permissions=["operate"])
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[Position]) -> None:
        reconcile_accounts(self, request, BrokerAccount.objects.filter(pk__in=queryset.values("account_id")))

    @admin.action(description=gettext_lazy("Accept the broker's figures for the selected mismatched positions…"),
                  permissions=["operate"])
    def resolve_mismatch(self, request: HttpRequest, queryset: QuerySet[Position]) -> TemplateResponse | None:
        """Asks why first (an intermediate page), then ``position_resolve`` for each, as the admin."""
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                       "title": _("Accept the broker's figures"), "positions": queryset.select_related("account"),
                       "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME}
            return TemplateResponse(request, "admin/trading/position/resolve.html", context)
        actor, resolved = admin_actor(request), 0
        for position in queryset.select_related("account__owner").order_by("pk"):
            try:
                position_resolve(actor=actor, position=position, reason=form.cleaned_data["reason"])
            except ApplicationError as error:
                self.message_user(request, f"{position.account} {position.symbol}: {error.message}", messages.ERROR)
            else:
                resolved += 1
        if resolved:
            self.message_user(request, _("%(count)d positions now hold the broker's figures.") % {"count": resolved})
        return None


class ReconciliationStatusFilter(admin.SimpleListFilter):
    title = gettext_lazy("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("failing", _("Failing")), ("mismatched", _("Positions differ")), ("never", _("Never finished"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "failing":
            return queryset.exclude(error="")
        if value == "mismatched":
            return queryset.filter(mismatches__gt=0)
        if value == "never":
            return queryset.filter(finished_at__isnull=True)
        return queryset


@admin.register(Reconciliation)
class ReconciliationAdmin(Styled, ReadOnlyAdmin):
    list_display = ["account", "owner", "status", "started_at", "finished_at", "error", "error_at", "orders_listed",
                    "external_adopted", "mismatches"]
    list_filter = [ReconciliationStatusFilter, "account__broker"]
    search_fields = ["account__nickname", "account__owner__email", "=account__id"]
    list_select_related = ["account__owner"]
    actions = ["reconcile_now"]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return can_operate(self, request)

    @admin.display(description=gettext_lazy("owner"), ordering="account__owner__email")
    def owner(self, state: Reconciliation) -> str:
        return state.account.owner.email

    @admin.display(description=gettext_lazy("status"))
    def status(self, state: Reconciliation) -> str:
        return reconciliation_badge(state)

    @admin.action(description=gettext_lazy("Reconcile the selected accounts with their brokers now"),
                  permissions=["operate"])
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[Reconciliation]) -> None:
        reconcile_accounts(self, request, BrokerAccount.objects.filter(pk__in=queryset.values("account_id")))
