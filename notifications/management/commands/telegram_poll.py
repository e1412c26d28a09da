"""Development: receive the bot's updates by long polling instead of the webhook (one door:
``notifications.telegram_updates.update_handle``). Deletes the webhook first (Telegram refuses
getUpdates while one is set). ``--once`` handles what is waiting and returns (tests, cron)."""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError

from notifications.telegram_updates import update_handle

logger = logging.getLogger(__name__)
OFFSET_KEY = "notifications:telegram_poll_offset"


class Command(BaseCommand):
    help = "Poll Telegram for the bot's updates (development; production uses the webhook)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Handle the waiting updates once, then stop.")
        parser.add_argument("--timeout", type=int, default=25, help="Long-poll seconds per request (not with --once).")

    def handle(self, *args, **options) -> None:
        from notifications.telegram import TelegramError, client_from_settings
        from notifications.telegram_link import telegram_configured

        if not telegram_configured():
            raise CommandError("TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_USERNAME are not set.")
        client = client_from_settings()
        try:
            client.delete_webhook()
        except TelegramError as failed:
            raise CommandError(f"deleteWebhook failed: {failed}") from failed
        offset = cache.get(OFFSET_KEY)
        while True:
            try:
                updates = client.get_updates(offset=offset, timeout=0 if options["once"] else options["timeout"])
            except TelegramError as failed:
                if options["once"]:
                    raise CommandError(f"getUpdates failed: {failed}") from failed
                self.stderr.write(f"getUpdates failed: {failed}")
                time.sleep(float(getattr(failed, "retry_after", None) or 5))
                continue
            offset = self._handle(updates, offset)
            cache.set(OFFSET_KEY, offset, None)
            if options["once"]:
                if offset is not None:  # confirms what was handled, so Telegram does not send it again
                    try:
                        client.get_updates(offset=offset, timeout=0)
                    except TelegramError as failed:
                        self.stderr.write(f"getUpdates (confirming) failed: {failed}")
                self.stdout.write(f"{len(updates)} update(s) handled.")
                return

    def _handle(self, updates: list[dict], offset: int | None) -> int | None:
        for update in updates:
            update_id = update.get("update_id")
            try:
                update_handle(update)
            except Exception:  # noqa: BLE001 - one bad update must not stop the loop (logged)
                logger.exception("telegram update %s failed", update_id)
            if isinstance(update_id, int):
                offset = max(offset or 0, update_id + 1)
        return offset
