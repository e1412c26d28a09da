"""Deployments in the operators' console (imported by ``trading.admin``).

Rows are read-only here: a deployment changes only through ``trading.live.services``. The actions
pause, halt and resume call those services as the admin acting for the owner (audited, published
to the owner); a resume the services refuse (real money needs the owner's own confirmation, a plan
limit) is reported with their message. Signals, days, symbol claims, risk settings and the bar
ingests are for reading.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.admin import ReadOnlyAdmin
from core.errors import ApplicationError
from marketdata.models import BarIngest
from trading.admin import AMBER, BLUE, GREEN, GREY, RED, Styled, admin_actor, badge, can_operate
from trading.live import services
from trading.live.models import Deployment, DeploymentDay, DeploymentSignal, RiskSettings, SymbolClaim

STATE_COLOURS = {"draft": GREY, "running": GREEN, "paused": AMBER, "stopped": GREY, "halted": RED}
VERDICT_COLOURS = {"passed": GREEN, "trimmed": AMBER, "blocked": RED}
HALT_CODE = "admin"
SIGNALS_SHOWN = 100


class NewestSignals(BaseInlineFormSet):
    """Only the newest signals on a deployment's page (a long-running one has thousands)."""

    def get_queryset(self) -> QuerySet[DeploymentSignal]:
        rows = super().get_queryset()
        return rows.filter(pk__in=list(rows.order_by("-decided_at").values_list("pk", flat=True)[:SIGNALS_SHOWN]))


class SignalInline(admin.TabularInline):
    model = DeploymentSignal
    formset = NewestSignals
    verbose_name_plural = gettext_lazy("newest signals (all of them: Deployment signals)")
    fields = ["decided_at", "symbol", "side", "reason", "price", "quantity_wanted", "quantity", "verdict",
              "guard_code", "guard_message", "outcome", "outcome_message", "order"]
    readonly_fields = fields
    ordering = ["-decided_at", "symbol"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Deployment)
class DeploymentAdmin(Styled, ReadOnlyAdmin):
    list_display = ["id", "name", "owner", "strategy", "account", "kind", "state_badge", "state_reason", "capital",
                    "timing", "started_at", "last_decision_at"]
    list_filter = ["state", "real_money", "replay", "timing"]
    search_fields = ["name", "owner__email", "owner__display_name", "=id"]
    list_select_related = ["owner", "strategy", "account"]
    date_hierarchy = "created_at"
    actions = ["pause", "halt", "resume"]
    inlines = [SignalInline]
    fieldsets = [
        (None, {"fields": ["owner", "name", "strategy", "account", "real_money", "confirmed_real_at", "replay",
                           "replay_start", "replay_end"]}),
        (gettext_lazy("Settings"), {"fields": ["capital", "symbols", "watchlist", "timing", "interval_minutes"]}),
        (gettext_lazy("Snapshot of the strategy"), {"fields": ["strategy_type", "params", "risk"]}),
        (gettext_lazy("State"), {"fields": ["state", "state_code", "state_reason", "data_note", "started_at",
                                            "stopped_at", "last_decision_at", "created_at", "updated_at"]}),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return can_operate(self, request)

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, deployment: Deployment) -> str:
        return badge(deployment.get_state_display(), STATE_COLOURS.get(deployment.state, GREY),
                     deployment.state_reason)

    @admin.display(description=gettext_lazy("money"), ordering="real_money")
    def kind(self, deployment: Deployment) -> str:
        if deployment.replay:
            return badge(_("replay"), BLUE)
        return badge(_("real money"), RED) if deployment.real_money else badge(_("paper or mock"), GREEN)

    def _each(self, request: HttpRequest, queryset: QuerySet[Deployment], act) -> None:
        done, refused = 0, []
        for deployment in queryset.select_related("owner", "account", "strategy").order_by("pk"):
            try:
                act(deployment)
            except ApplicationError as error:
                refused.append(f"{deployment.name} (#{deployment.pk}): {error.message}")
            else:
                done += 1
        self.message_user(request, _("%(count)d deployments changed.") % {"count": done},
                          messages.SUCCESS if not refused else messages.WARNING)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=gettext_lazy("Pause the selected deployments"), permissions=["operate"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        actor = admin_actor(request)
        reason = _("Paused by an administrator.")
        self._each(request, queryset, lambda deployment: services.deployment_pause(
            actor=actor, deployment=deployment, reason=reason, code=HALT_CODE))

    @admin.action(description=gettext_lazy("Halt the selected deployments"), permissions=["operate"])
    def halt(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        actor = admin_actor(request)
        reason = _("Halted by an administrator.")
        self._each(request, queryset, lambda deployment: services.deployment_halt(
            actor=actor, deployment=deployment, code=HALT_CODE, reason=reason))

    @admin.action(description=gettext_lazy("Resume the selected deployments (not real money: the owner confirms it)"),
                  permissions=["operate"])
    def resume(self, request: HttpRequest, queryset: QuerySet[Deployment]) -> None:
        actor = admin_actor(request)
        self._each(request, queryset, lambda deployment: services.deployment_resume(actor=actor,
                                                                                    deployment=deployment))


@admin.register(DeploymentSignal)
class DeploymentSignalAdmin(Styled, ReadOnlyAdmin):
    list_display = ["decided_at", "deployment", "symbol", "side", "reason", "quantity_wanted", "quantity",
                    "verdict_badge", "guard_code", "outcome", "order"]
    list_filter = ["verdict", "outcome", "reason", "side", "guard_code"]
    search_fields = ["symbol", "deployment__name", "deployment__owner__email", "=intent_id"]
    list_select_related = ["deployment", "order"]
    date_hierarchy = "decided_at"

    @admin.display(description=gettext_lazy("verdict"), ordering="verdict")
    def verdict_badge(self, signal: DeploymentSignal) -> str:
        return badge(signal.get_verdict_display(), VERDICT_COLOURS.get(signal.verdict, GREY), signal.guard_message)


@admin.register(DeploymentDay)
class DeploymentDayAdmin(ReadOnlyAdmin):
    list_display = ["day", "deployment", "equity", "cash", "invested", "pnl", "positions", "signals", "orders",
                    "fills", "blocked", "note"]
    list_filter = ["day"]
    search_fields = ["deployment__name", "deployment__owner__email"]
    list_select_related = ["deployment"]
    date_hierarchy = "day"


@admin.register(SymbolClaim)
class SymbolClaimAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "account", "deployment", "claimed_at"]
    search_fields = ["symbol", "deployment__name", "account__owner__email"]
    list_select_related = ["account", "deployment"]


@admin.register(RiskSettings)
class RiskSettingsAdmin(ReadOnlyAdmin):
    """The owner changes these on their risk settings page (audited); operators read them."""

    list_display = ["user", "max_symbol_share", "max_sector_share", "max_symbols", "daily_loss_limit", "updated_at"]
    search_fields = ["user__email", "user__display_name"]
    list_select_related = ["user"]


@admin.register(BarIngest)
class BarIngestAdmin(ReadOnlyAdmin):
    list_display = ["day", "started_at", "finished_at", "symbols", "updated", "missed", "error"]
    list_filter = ["day"]
    date_hierarchy = "day"

    @admin.display(description=gettext_lazy("symbols missed"))
    def missed(self, ingest: BarIngest) -> int:
        return len(ingest.missing or {})
