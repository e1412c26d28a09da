"""Admin of trading: broker accounts (masked, never a secret), with verify / disable / enable actions
and the broker outage switch, all through the same services as the pages (audited as the admin)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.admin import ReadOnlyAdmin
from core.audit import Actor
from trading import health, services
from trading.models import BrokerAccount, BrokerKind
from trading.orders.models import Order, Position
from trading.paper.models import PaperFill, PaperOrder, PaperPosition


@admin.register(BrokerAccount)
class BrokerAccountAdmin(admin.ModelAdmin):
    list_display = ["id", "nickname", "owner", "broker", "environment", "masked_account", "masked_key", "status",
                    "status_reason", "last_verified_at"]
    list_filter = ["status", "broker", "environment", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["nickname", "owner__email", "=id"]
    list_select_related = ["owner"]
    actions = ["verify", "disable", "enable", "mark_outage", "clear_outage"]
    # never the encrypted fields, the balance of the owner or the whole account number
    fields = ["owner", "nickname", "broker", "environment", "masked_account", "masked_key", "hts_id", "status",
              "status_code", "status_reason", "last_verified_at", "last_checked_at", "paper_initial_cash",
              "created_at", "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # users connect their own accounts (the broker verifies their keys)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # deleting revokes the token at the broker: only through the service (below, or the owner)

    @admin.display(description=gettext_lazy("account number"))
    def masked_account(self, account: BrokerAccount) -> str:
        return account.masked_account_no

    @admin.display(description=gettext_lazy("app key"))
    def masked_key(self, account: BrokerAccount) -> str:
        return account.masked_app_key

    @admin.action(description=gettext_lazy("Verify the selected accounts with their brokers"))
    def verify(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        actor = Actor.from_request(request, door="admin")
        ok = failed = 0
        for account in queryset.select_related("owner"):
            outcome = services.broker_account_verify(actor=actor, account=account)
            ok, failed = ok + outcome.ok, failed + (not outcome.ok)
        self.message_user(request, _("%(ok)d verified, %(failed)d failed.") % {"ok": ok, "failed": failed},
                          messages.SUCCESS if not failed else messages.WARNING)

    @admin.action(description=gettext_lazy("Disable the selected accounts (no checks, no trading)"))
    def disable(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        actor = Actor.from_request(request, door="admin")
        for account in queryset:
            services.broker_account_set_disabled(actor=actor, account=account, disabled=True)
        self.message_user(request, _("%(count)d accounts disabled.") % {"count": queryset.count()})

    @admin.action(description=gettext_lazy("Enable the selected accounts (and verify them)"))
    def enable(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        actor = Actor.from_request(request, door="admin")
        for account in queryset:
            services.broker_account_set_disabled(actor=actor, account=account, disabled=False)
        self.message_user(request, _("%(count)d accounts enabled.") % {"count": queryset.count()})

    @admin.action(description=gettext_lazy("Mark the selected accounts' brokers as limited (banner, orders refused)"))
    def mark_outage(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        self._outage(request, queryset, on=True)

    @admin.action(description=gettext_lazy("Clear the limited mark of the selected accounts' brokers"))
    def clear_outage(self, request: HttpRequest, queryset: QuerySet[BrokerAccount]) -> None:
        self._outage(request, queryset, on=False)

    def _outage(self, request: HttpRequest, queryset: QuerySet[BrokerAccount], *, on: bool) -> None:
        from core.audit import audit_record

        pairs = set(queryset.exclude(broker=BrokerKind.PAPER).values_list("broker", "environment"))
        for broker, environment in pairs:
            health.set_limited(broker=broker, environment=environment, on=on)
            audit_record(actor=Actor.from_request(request, door="admin"), action="broker.limited" if on else "broker.restored",
                         owner=None, object_type="broker", object_id=f"{broker}:{environment}")
        self.message_user(request, _("%(count)d brokers updated.") % {"count": len(pairs)})


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


# The order ledger: written by its services only (every transition audited). Unknown and external
# orders and mismatched positions at a glance; the reconcile-now and cancel actions, the timeline and
# the kill switches come with the order pages (issue 14).
@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "owner", "account", "source", "symbol", "side", "quantity", "price", "state",
                    "filled_quantity", "broker_order_no", "external", "flag", "created_at"]
    list_filter = ["state", "source", "external", "side", "order_day"]
    search_fields = ["=id", "=broker_order_no", "symbol", "owner__email", "=intent_id"]
    list_select_related = ["owner", "account"]
    date_hierarchy = "created_at"


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["account", "symbol", "quantity", "cost", "realized_pnl", "broker_quantity", "mismatch"]
    list_filter = ["mismatch"]
    search_fields = ["symbol", "account__owner__email"]
    list_select_related = ["account"]
