"""Models of notifications: the in-app centre and preferences, Telegram, feedback reports,
announcements and webhooks. One module per area; everything is importable from here."""

from notifications.models.announcements import Announcement, AnnouncementDismissal
from notifications.models.centre import Notification, NotificationPreference, NotificationSettings
from notifications.models.feedback import FeedbackReport
from notifications.models.telegram import TelegramLink, TelegramLinkToken, TelegramMessage, TelegramPendingAction
from notifications.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Announcement", "AnnouncementDismissal", "FeedbackReport", "Notification", "NotificationPreference",
    "NotificationSettings", "TelegramLink", "TelegramLinkToken", "TelegramMessage", "TelegramPendingAction",
    "WebhookDelivery", "WebhookEndpoint",
]
