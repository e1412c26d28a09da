"""Admin of notifications: webhook. Imported by notifications/admin.py.

Operators see users' webhooks and their deliveries (to answer "why did my webhook stop?") and may
enable a disabled one again through the service; they never see the secret (not a field here,
stored encrypted) and do not edit URLs or events: that is the owner's business.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import Actor
from notifications import webhook_services
from notifications.models import WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "owner", "is_active", "consecutive_failures", "disabled_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "owner__email"]
    list_select_related = ["owner"]
    fields = ["owner", "url", "events", "is_active", "consecutive_failures", "disabled_at", "disabled_reason",
              "created_at", "updated_at", "deliveries"]
    readonly_fields = fields  # secret_encrypted is deliberately absent
    actions = ["enable_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=gettext_lazy("deliveries"))
    def deliveries(self, endpoint: WebhookEndpoint) -> str:
        # a link to the filtered list, not an inline: an endpoint may have thousands
        url = f"{reverse('admin:notifications_webhookdelivery_changelist')}?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Its deliveries"))

    @admin.action(description=gettext_lazy("Enable the selected webhooks again"), permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        actor = Actor.from_request(request, door="admin")
        count = 0
        for endpoint in queryset.select_related("owner").filter(is_active=False):
            webhook_services.webhook_enable(actor=actor, endpoint=endpoint)
            count += 1
        self.message_user(request, _("%(count)s webhooks enabled again.") % {"count": count}, messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "event", "state", "attempts", "last_status", "created_at", "delivered_at"]
    list_filter = ["state", "event"]
    search_fields = ["endpoint__url", "endpoint__owner__email", "event"]
    list_select_related = ["endpoint"]
    fields = ["endpoint", "event", "kind", "payload", "state", "attempts", "next_attempt_at", "last_status",
              "last_error", "delivered_at", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookDelivery | None = None) -> bool:
        return False
