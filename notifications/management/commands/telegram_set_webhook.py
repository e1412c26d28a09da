"""Point the bot's webhook at this site: ``SITE_URL`` + the webhook path, with the secret token
Telegram sends back in ``X-Telegram-Bot-Api-Secret-Token`` (``TELEGRAM_WEBHOOK_SECRET``)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse


class Command(BaseCommand):
    help = "Set the Telegram webhook to SITE_URL + /notifications/telegram/webhook/ with the secret token."

    def handle(self, *args, **options) -> None:
        from notifications.telegram import TelegramError, client_from_settings

        secret = getattr(settings, "TELEGRAM_WEBHOOK_SECRET", "")
        if not getattr(settings, "TELEGRAM_BOT_TOKEN", "") or not secret:
            raise CommandError("TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET must be set.")
        url = settings.SITE_URL.rstrip("/") + reverse("notifications:telegram_webhook")
        if not url.startswith("https://"):
            self.stderr.write("Telegram only delivers to an https:// webhook; SITE_URL is " + settings.SITE_URL)
        try:
            client_from_settings().set_webhook(url, secret)
        except TelegramError as failed:
            raise CommandError(f"setWebhook failed: {failed}") from failed
        self.stdout.write(f"Webhook set to {url}")  # the secret is never printed
