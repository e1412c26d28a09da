"""Pages of notifications: telegram (the webhook Telegram posts to, the deep link, unlinking)."""

from django.urls import path

from notifications import telegram_views

urlpatterns: list = [
    path("telegram/", telegram_views.telegram_page, name="telegram"),
    path("telegram/webhook/", telegram_views.webhook, name="telegram_webhook"),
    path("telegram/link/", telegram_views.link_start, name="telegram_link"),
    path("telegram/unlink/", telegram_views.unlink, name="telegram_unlink"),
]
