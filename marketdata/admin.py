"""Admin of marketdata: the instrument master, the bar store's coverage, and re-imports."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketdata.models import Instrument
from marketdata.providers.base import ProviderError
from marketdata.refresh import bars_refresh
from marketdata.store import BarStore

# Each re-import waits on outside providers inside the request: keep one click bounded.
MAX_REFRESH_PER_ACTION = 20


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "market", "sector", "status", "listed_on", "currency"]
    list_filter = ["market", "status", "sector"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["code"]
    list_per_page = 100
    actions = ["reimport_bars"]
    change_list_template = "marketdata/admin_instrument_change_list.html"

    def get_urls(self):
        coverage = path(
            "coverage/",
            self.admin_site.admin_view(self.coverage_view),
            name="marketdata_instrument_coverage",
        )
        return [coverage, *super().get_urls()]

    def coverage_view(self, request: HttpRequest) -> HttpResponse:
        """Every code in the bar store: first/last day, rows, gaps, and whether the master knows it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = BarStore(settings.MARKET_DATA_ROOT).coverage()
        names = dict(Instrument.objects.filter(code__in=[row.code for row in rows]).values_list("code", "name"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Bar store coverage"),
            "rows": [{"coverage": row, "name": names.get(row.code)} for row in rows],
            "total_rows": sum(row.rows for row in rows),
            "market_data_root": settings.MARKET_DATA_ROOT,
        }
        return TemplateResponse(request, "marketdata/admin_coverage.html", context)

    @admin.action(description=gettext_lazy("Re-import daily bars from the provider chain"))
    def reimport_bars(self, request: HttpRequest, queryset) -> None:
        codes = list(queryset.order_by("code").values_list("code", flat=True)[: MAX_REFRESH_PER_ACTION + 1])
        if len(codes) > MAX_REFRESH_PER_ACTION:
            self.message_user(
                request,
                _("Select at most %(limit)d instruments to re-import at once.") % {"limit": MAX_REFRESH_PER_ACTION},
                messages.ERROR,
            )
            return
        for code in codes:
            try:
                self.message_user(request, bars_refresh(code=code), messages.SUCCESS)
            except (ProviderError, ValueError) as error:
                # ValueError: the store refused the provider's bars (malformed rows).
                failure = _("%(code)s: re-import failed: %(reason)s") % {"code": code, "reason": error}
                self.message_user(request, failure, messages.ERROR)
