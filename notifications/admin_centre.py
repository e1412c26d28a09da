"""Admin of notifications: centre. Imported by notifications/admin.py.

Notifications are what the routing wrote: read-only here (operators look, they do not forge them).
Preferences and settings are the users' own choices: shown, editable only for support.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from notifications import catalog
from notifications.models import Notification, NotificationPreference, NotificationSettings


class CategoryFilter(admin.SimpleListFilter):
    title = _("category")
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return list(catalog.CATEGORIES.items())

    def queryset(self, request, queryset):
        if self.value() in catalog.CATEGORIES:
            return queryset.filter(kind__in=[k.key for k in catalog.KINDS.values() if k.category == self.value()])
        return queryset


class ReadFilter(admin.SimpleListFilter):
    title = _("read")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", _("Unread")), ("yes", _("Read"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(read_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(read_at__isnull=False)
        return queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "owner", "kind", "level", "title", "read_at"]
    list_filter = [CategoryFilter, "kind", "level", ReadFilter, "created_at"]
    search_fields = ["owner__email", "title", "event"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    readonly_fields = ["owner", "event", "kind", "level", "title", "body", "link", "payload", "read_at", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["owner", "kind", "in_app", "telegram", "email"]
    list_filter = ["kind", "in_app", "telegram", "email"]
    search_fields = ["owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ["owner", "quiet_start", "quiet_end", "digest_daily", "digest_hour", "digest_sent_on"]
    list_filter = ["digest_daily"]
    search_fields = ["owner__email"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner"]
    readonly_fields = ["digest_sent_on", "updated_at"]
