"""Admin of trading, the operators' console.

- Broker accounts: masked, never a secret; their own order limits and the last reconciliation;
  verify / disable / enable / reconcile now, the broker outage switch and their kill switches.
- The paper book: read-only (written by the paper broker only).
- The order ledger: orders, positions and reconciliations read-only. Unknown, stuck and external
  orders at a glance (the list opens on "needs attention"); the order page shows its timeline.
  Orders change only through the ledger's services: "reconcile now" and "cancel", audited as the
  admin acting for the owner; a mismatched position takes the broker's figures with a reason.
- Kill switches: ``trading.admin_killswitch`` (the global one, and every account's and user's).

Actions that act for owners need the model's change permission (``has_operate_permission``):
a staff member who may only view sees the lists and pages, not the actions.
"""

from __future__ import annotations

import dataclasses
import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import clock
from core.admin import ReadOnlyAdmin
from core.audit import Actor
from core.errors import ApplicationError
from trading import health, services
from trading.models import BrokerAccount, BrokerKind
from trading.orders import selectors as order_selectors
from trading.orders.adjust import position_resolve
from trading.orders import services as order_services
from trading.orders.models import Order, Position, Reconciliation
from trading.orders.states import State
from trading.paper.models import PaperFill, PaperOrder, PaperPosition

# colours of trading/static/trading/admin.css (classes: the CSP blocks style attributes)
RED, ORANGE, AMBER, BLUE, GREEN, GREY = "tk-red", "tk-orange", "tk-amber", "tk-blue", "tk-green", "tk-grey"
STATE_COLOURS = {
    State.NEW: GREY, State.SUBMITTING: ORANGE, State.ACCEPTED: BLUE, State.PARTIALLY_FILLED: BLUE,
    State.FILLED: GREEN, State.CANCEL_REQUESTED: AMBER, State.CANCELLED: GREY, State.EXPIRED: GREY,
    State.REJECTED: RED, State.UNKNOWN: RED, State.NOT_PLACED: GREY,
}


def badge(text: str, colour: str, title: str = "") -> str:
    return format_html('<span class="tk-badge {}" title="{}">{}</span>', colour, title, text)


class Styled:
    """The console's badges."""

    class Media:
        css = {"all": ["trading/admin.css"]}


def admin_actor(request: HttpRequest) -> Actor:
    """The admin acting (audit rows: actor the admin, kind admin); the label names them on timelines."""
    return dataclasses.replace(Actor.from_request(request, door="admin"), label=f"admin {request.user.email}")


def can_operate(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """The model's change permission: the right to act through the services (nothing is edited in place)."""
    opts = model_admin.opts
    return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


def reconcile_accounts(model_admin: admin.ModelAdmin, request: HttpRequest, accounts: QuerySet[BrokerAccount]) -> None:
    actor = admin_actor(request)
    count = 0
    for account in accounts.select_related("owner").order_by("pk"):
        services.broker_account_reconcile_request(actor=actor, account=account)
        count += 1
    model_admin.message_user(request, _("%(count)d accounts will be reconciled with their brokers within seconds.")
                             % {"count": count})


def seoul_time(at) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S")


def reconciliation_badge(state: Reconciliation | None) -> str:
    """The account's last reconciliation in one cell: failing, running, mismatched or when it agreed."""
    if state is None or state.started_at is None:
        return badge(_("never"), GREY)
    if state.error:
        return badge(_("failing"), RED, state.error)
    if state.finished_at is None or state.started_at > state.finished_at:
        return badge(_("running"), AMBER, _("started %(at)s") % {"at": seoul_time(state.started_at)})
    if state.mismatches:
        return badge(_("%(count)d mismatched") % {"count": state.mismatches}, RED)
    return badge(_("agreed"), GREEN, _("finished %(at)s") % {"at": seoul_time(state.finished_at)})


# -- broker accounts ---------------------------------------------------------------------------
@admin.register(BrokerAccount)
class BrokerAccountAdmin(Styled, admin.ModelAdmin):
    list_display = ["id", "nickname", "owner", "broker", "environment", "masked_account", "masked_key", "status",
                    "status_reason", "last_verified_at", "max_order_value", "max_position_share", "reconciliation"]
    list_filter = ["status", "broker", "environment", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["nickname", "owner__email", "=id"]
    list_select_related = ["owner", "order_reconciliation"]
    actions = ["verify", "disable", "enable", "reconcile_now", "pull_kill_switch", "release_kill_switch",
               "mark_outage", "clear_outage"]
    # never the encrypted fields, the balance of the owner or the whole account number
    fields = ["owner", "nickname", "broker", "environment", "masked_account", "masked_key", "hts_id", "status",
              "status_code", "status_reason", "last_verified_at", "last_checked_at", "paper_initial_cash",
              "max_order_value", "max_position_share", "reconciliation", "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # users connect their own accounts (the broker verifies their keys)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # deleting revokes the token at the broker: only through the service (below, or the owner)

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return can_operate(self, request)

    @admin.display(description=gettext_lazy("account number"))
    def masked_account(self, account: BrokerAccount) -> str:
        return account.masked_account_no

    @admin.display(description=gettext_lazy("app key"))
    def masked_key(self, account: BrokerAccount) -> str:
        return account.masked_app_key

    @admin.display(description=gettext_lazy("reconciliation"))
    def reconciliation(self, account: BrokerAccount) -> str:
        return reconciliation_badge(getattr(account, "order_reconciliation", None))

    @admin.action(description=gettext_lazy("Verify the selected accounts with their brokers"), permissions=["operate"])
    def verify(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        actor = admin_actor(request)
        ok = failed = 0
        for account in queryset.select_related("owner"):
            outcome = services.broker_account_verify(actor=actor, account=account)
            ok, failed = ok + outcome.ok, failed + (not outcome.ok)
        self.message_user(request, _("%(ok)d verified, %(failed)d failed.") % {"ok": ok, "failed": failed},
                          messages.SUCCESS if not failed else messages.WARNING)

    @admin.action(description=gettext_lazy("Disable the selected accounts (no checks, no trading)"),
                  permissions=["operate"])
    def disable(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        actor = admin_actor(request)
        for account in queryset:
            services.broker_account_set_disabled(actor=actor, account=account, disabled=True)
        self.message_user(request, _("%(count)d accounts disabled.") % {"count": queryset.count()})

    @admin.action(description=gettext_lazy("Enable the selected accounts (and verify them)"), permissions=["operate"])
    def enable(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        actor = admin_actor(request)
        for account in queryset:
            services.broker_account_set_disabled(actor=actor, account=account, disabled=False)
        self.message_user(request, _("%(count)d accounts enabled.") % {"count": queryset.count()})

    @admin.action(description=gettext_lazy("Reconcile the selected accounts with their brokers now"),
                  permissions=["operate"])
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        reconcile_accounts(self, request, queryset)

    def has_kill_switch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("trading.change_killswitch")

    @admin.action(description=gettext_lazy("Pull the kill switch of the selected accounts…"),
                  permissions=["kill_switch"])
    def pull_kill_switch(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> HttpResponseRedirect:
        return _kill_switch_form("pull", queryset)

    @admin.action(description=gettext_lazy("Release the kill switch of the selected accounts…"),
                  permissions=["kill_switch"])
    def release_kill_switch(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> HttpResponseRedirect:
        return _kill_switch_form("release", queryset)

    @admin.action(description=gettext_lazy("Mark the selected accounts' brokers as limited (banner, orders refused)"),
                  permissions=["operate"])
    def mark_outage(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        self._outage(request, queryset, on=True)

    @admin.action(description=gettext_lazy("Clear the limited mark of the selected accounts' brokers"),
                  permissions=["operate"])
    def clear_outage(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        self._outage(request, queryset, on=False)

    def _outage(self, request: HttpRequest, queryset: QuerySet[BrokerAccount], *, on: bool) -> None:
        from core.audit import audit_record

        pairs = set(queryset.exclude(broker=BrokerKind.PAPER).values_list("broker", "environment"))
        for broker, environment in pairs:
            health.set_limited(broker=broker, environment=environment, on=on)
            audit_record(actor=admin_actor(request), action="broker.limited" if on else "broker.restored",
                         owner=None, object_type="broker", object_id=f"{broker}:{environment}")
        self.message_user(request, _("%(count)d brokers updated.") % {"count": len(pairs)})


def _kill_switch_form(op: str, accounts: QuerySet[BrokerAccount]) -> HttpResponseRedirect:
    """To the kill switch form (it asks for the reason and checks the permission)."""
    ids = ",".join(str(pk) for pk in accounts.order_by("pk").values_list("pk", flat=True))
    query = urlencode({"op": op, "scope": "account", "account": ids})
    return HttpResponseRedirect(f"{reverse('admin:trading_killswitch_operate')}?{query}")


# The paper book is written by the paper broker only (every write locks the account's cash).
@admin.register(PaperOrder)
class PaperOrderAdmin(ReadOnlyAdmin):
    list_display = ["order_no", "book", "symbol", "side", "order_type", "quantity", "price", "filled_quantity",
                    "status", "order_day", "placed_at"]
    list_filter = ["status", "side", "order_type", "order_day"]
    search_fields = ["=order_no", "symbol", "book__account__owner__email"]
    list_select_related = ["book__account"]


@admin.register(PaperFill)
class PaperFillAdmin(ReadOnlyAdmin):
    list_display = ["fill_no", "order", "symbol", "side", "quantity", "price", "commission", "tax", "trade_day",
                    "settles_on"]
    list_filter = ["side", "trade_day"]
    search_fields = ["=fill_no", "symbol", "book__account__owner__email"]
    list_select_related = ["order"]


@admin.register(PaperPosition)
class PaperPositionAdmin(ReadOnlyAdmin):
    list_display = ["book", "symbol", "quantity", "average_price", "realized_pnl"]
    search_fields = ["symbol", "book__account__owner__email"]
    list_select_related = ["book__account"]


# -- the order ledger ----------------------------------------------------------------------------
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


from trading import admin_killswitch  # noqa: E402,F401 - registers the kill switches' admin
