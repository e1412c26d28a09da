"""Admin of backtests: runs by status, user and type, durations, failed runs' errors at a glance,
and actions to re-run or cancel (through the same services as the pages)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backtests import services
from backtests.models import BacktestRun, BacktestSweep, RunStatus
from core.errors import ApplicationError
from strategies.admin import StrategyTypeFilter


@admin.register(BacktestRun)
class BacktestRunAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "strategy_type", "status_badge", "progress", "created_at", "duration",
                    "total_return_pct", "trades", "short_error"]
    list_filter = ["status", StrategyTypeFilter, ("owner", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["title", "owner__email", "codes", "error", "=id"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    actions = ["rerun", "cancel"]
    readonly_fields = [field.name for field in BacktestRun._meta.fields]
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are started by users (pages, API); operators re-run them

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, run: BacktestRun):
        colours = {RunStatus.FAILED: "#c62828", RunStatus.SUCCEEDED: "#1b7f3b", RunStatus.CANCELLED: "#5d6b7a"}
        return format_html('<strong style="color:{}">{}</strong>', colours.get(run.status, "#1f5fbf"),
                           run.get_status_display())

    @admin.display(description=gettext_lazy("duration"))
    def duration(self, run: BacktestRun) -> str:
        seconds = run.wall_seconds
        return "—" if seconds is None else f"{seconds:.1f} s"

    @admin.display(description=gettext_lazy("total return"), ordering="total_return")
    def total_return_pct(self, run: BacktestRun) -> str:
        return "—" if run.total_return is None else f"{run.total_return * 100:+.2f} %"

    @admin.display(description=gettext_lazy("error"))
    def short_error(self, run: BacktestRun) -> str:
        return run.error[:120]

    @admin.action(description=gettext_lazy("Re-run the selected backtests (as their owners)"))
    def rerun(self, request: HttpRequest, queryset: QuerySet[BacktestRun]) -> None:
        started, refused = 0, []
        for run in queryset.select_related("owner", "strategy"):
            try:
                services.backtest_rerun(user=run.owner, run=run)
                started += 1
            except (ValidationError, ApplicationError) as error:
                refused.append(f"#{run.pk}: {_message(error)}")
        if started:
            self.message_user(request, _("%(count)s backtests queued again.") % {"count": started}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description=gettext_lazy("Cancel the selected backtests"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[BacktestRun]) -> None:
        cancelled = 0
        for run in queryset.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).select_related("owner"):
            try:
                services.backtest_cancel(user=run.owner, run=run)
                cancelled += 1
            except ApplicationError:
                continue
        self.message_user(request, _("%(count)s backtests cancelled.") % {"count": cancelled}, messages.SUCCESS)


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    return str(error)


@admin.register(BacktestSweep)
class BacktestSweepAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "strategy_type", "x_param", "y_param", "status", "cells_done",
                    "cells_total", "created_at"]
    list_filter = ["status", StrategyTypeFilter]
    search_fields = ["title", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = [field.name for field in BacktestSweep._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
