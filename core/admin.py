"""The audit log in the admin: read-only, filterable by owner, actor, action and object."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from core.models import AuditEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows only the platform writes (audit entries, ledgers): operators read and filter them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "object_type", "object_id", "object_repr", "owner", "actor_kind",
                    "actor", "actor_label", "door", "ip_address"]
    list_filter = ["action", "object_type", "actor_kind", "door", ("owner", admin.RelatedOnlyFieldListFilter),
                   ("actor", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["=object_id", "object_repr", "owner__email", "actor__email", "actor_label", "reason"]
    list_select_related = ["owner", "actor"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]
    list_per_page = 100


# ---------------------------------------------------------------------------
# System settings (one row) and the operators' pages under /admin/ops/
# ---------------------------------------------------------------------------
from django import forms  # noqa: E402
from django.shortcuts import redirect  # noqa: E402
from django.utils.translation import gettext_lazy as _  # noqa: E402

from core.models_system import SINGLETON_PK, SystemSettings  # noqa: E402
from core.system.admin_incident import admin_actor  # noqa: E402
from core.system.admin_views import ops_urls  # noqa: E402


class SystemSettingsForm(forms.ModelForm):
    default_plan = forms.ModelChoiceField(queryset=None, label=_("Plan of new users (the default plan)"),
                                          help_text=_("The plan of every user without a subscription."))

    class Meta:
        model = SystemSettings
        fields = ["maintenance_mode", "maintenance_message", "signup_open", "invites_open", "live_trading_allowed",
                  "real_money_allowed", "backtest_commission_pct", "backtest_slippage_bps"]

    def __init__(self, *args, **kwargs) -> None:
        from coupons.models import Plan
        from coupons.selectors import default_plan

        super().__init__(*args, **kwargs)
        self.fields["default_plan"].queryset = Plan.objects.order_by("rank")
        self.fields["default_plan"].initial = default_plan()


@admin.register(SystemSettings)
class SystemSettingsAdmin(admin.ModelAdmin):
    """One row: the list leads to its change page; saving goes through ``system_settings_update``."""

    form = SystemSettingsForm
    readonly_fields = ["maintenance_pulled_kill_switch", "updated_at", "updated_by"]
    fieldsets = [
        (_("Maintenance"), {"fields": ["maintenance_mode", "maintenance_message", "maintenance_pulled_kill_switch"]}),
        (_("Switches"), {"fields": ["signup_open", "invites_open", "live_trading_allowed", "real_money_allowed"]}),
        (_("Defaults"), {"fields": ["backtest_commission_pct", "backtest_slippage_bps", "default_plan"]}),
        (_("Last change"), {"fields": ["updated_at", "updated_by"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        SystemSettings.objects.get_or_create(pk=SINGLETON_PK)
        return redirect("admin:core_systemsettings_change", SINGLETON_PK)

    def save_model(self, request: HttpRequest, obj: SystemSettings, form, change: bool) -> None:
        from core.system.services import FIELDS, system_settings_update

        asked = {name: form.cleaned_data[name] for name in form.changed_data if name in FIELDS}
        saved = system_settings_update(actor=admin_actor(request), **asked)
        obj.maintenance_pulled_kill_switch = saved.maintenance_pulled_kill_switch


_admin_urls = admin.site.get_urls


def _urls_with_ops() -> list:
    return ops_urls() + _admin_urls()


admin.site.get_urls = _urls_with_ops  # /admin/ops/: the operators' dashboard (core.system.admin_views)
admin.site.index_template = "admin/ops/index.html"  # the admin index with a link to it
