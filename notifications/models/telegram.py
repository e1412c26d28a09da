"""Telegram: one chat linked per user, one-time link tokens, the outbox paced per chat, and the
confirmations that commands such as /kill wait for."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TelegramLink(models.Model):
    """The chat a user's alerts go to. One chat per user and one user per chat."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link")
    chat_id = models.BigIntegerField(_("chat id"), unique=True)
    username = models.CharField(_("Telegram username"), max_length=64, blank=True)
    linked_at = models.DateTimeField(_("linked at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")

    def __str__(self) -> str:
        return f"{self.owner_id} -> {self.username or 'chat'}"


class TelegramLinkToken(models.Model):
    """A one-time, short-lived token of the deep link ``t.me/<bot>?start=<token>``; only its hash is kept."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("Telegram link token")
        verbose_name_plural = _("Telegram link tokens")


class TelegramMessage(models.Model):
    """The outbox: every message to a chat, sent in order at Telegram's pace (1/s per chat, ~30/s
    overall). Queued fills of one chat with the same ``coalesce_key`` go out as one message."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")  # claimed by one worker: never sent twice
        SENT = "sent", _("Sent")
        MERGED = "merged", _("Merged into another message")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        ALERT = "alert", _("Alert")
        REPLY = "reply", _("Reply to a command")
        STAFF = "staff", _("Operators' alert")
        DIGEST = "digest", _("Digest")

    chat_id = models.BigIntegerField(db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="telegram_messages")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ALERT)
    text = models.TextField()
    reply_markup = models.JSONField(null=True, blank=True)
    coalesce_key = models.CharField(max_length=64, blank=True)
    notification = models.ForeignKey("notifications.Notification", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="telegram_messages")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    not_before = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    telegram_message_id = models.BigIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "chat_id", "id"], name="tg_outbox_queue")]
        verbose_name = _("Telegram message")
        verbose_name_plural = _("Telegram messages")


class TelegramPendingAction(models.Model):
    """A command waiting for its confirmation button (/kill, /pause, /resume): single use, short-lived."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_actions")
    chat_id = models.BigIntegerField()
    action = models.CharField(max_length=20)
    target_id = models.PositiveBigIntegerField(null=True, blank=True)  # a deployment; null = all
    token = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
