"""Admin of notifications: telegram. Imported by notifications/admin.py.

The outbox and the links are read-only: messages are written by the outbox and sent by the flush,
links are made and removed by their owners (web page or bot, audited). Operators look here to see
why a message did not arrive. No secret lives in these rows (link tokens are kept as hashes and not
shown; the bot token is never in the database).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from notifications.models.telegram import TelegramLink, TelegramMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TelegramMessage)
class TelegramMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "chat_id", "owner", "kind", "state", "attempts", "short_text", "sent_at",
                    "last_error"]
    list_filter = ["state", "kind", "created_at"]
    search_fields = ["=chat_id", "owner__email", "text"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    fields = ["chat_id", "owner", "kind", "state", "coalesce_key", "text", "reply_markup", "notification", "attempts",
              "not_before", "claimed_at", "sent_at", "telegram_message_id", "last_error", "created_at"]
    readonly_fields = fields
    raw_id_fields = ["owner", "notification"]

    @admin.display(description=_("text"))
    def short_text(self, obj: TelegramMessage) -> str:
        first = obj.text.splitlines()[0] if obj.text else ""
        return first if len(first) <= 60 else first[:59] + "…"


@admin.register(TelegramLink)
class TelegramLinkAdmin(ReadOnlyAdmin):
    list_display = ["owner", "username", "chat_id", "linked_at"]
    search_fields = ["owner__email", "username", "=chat_id"]
    list_select_related = ["owner"]
    date_hierarchy = "linked_at"
    fields = ["owner", "chat_id", "username", "linked_at"]
    readonly_fields = fields
