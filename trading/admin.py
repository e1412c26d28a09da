"""Admin of trading, the operators' console.

- Broker accounts: masked, never a secret; their own order limits and the last reconciliation;
  verify / disable / enable / reconcile now, the broker outage switch and their kill switches.
- The paper book: read-only (written by the paper broker only).
- The order ledger: ``trading.admin_ledger`` (orders, positions, reconciliations).
- Kill switches: ``trading.admin_killswitch`` (the global one, and every account's and user's).

Actions that act for owners need the model's change permission (``has_operate_permission``):
a staff member who may only view sees the lists and pages, not the actions.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.admin import ReadOnlyAdmin
from core.audit import Actor
from trading import health, services
from trading.models import BrokerAccount, BrokerKind
from trading.orders.models import Reconciliation
from trading.paper.models import PaperFill, PaperOrder, PaperPosition

# colours of trading/static/trading/admin.css (classes: the CSP blocks style attributes)
RED, ORANGE, AMBER, BLUE, GREEN, GREY = "tk-red", "tk-orange", "tk-amber", "tk-blue", "tk-green", "tk-grey"


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


# the order ledger and the kill switches: their own modules (registered on import)
from trading import admin_killswitch, admin_ledger  # noqa: E402,F401
from trading.live import admin as live_admin  # noqa: E402,F401 (deployments and what they record)
