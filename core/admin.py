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
