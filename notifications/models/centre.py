"""The in-app notification centre and what each user wants to be told, where and when."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One thing worth keeping that happened to a user (an order filled, a deployment halted…).

    ``event`` is the published event's name (``order.filled``); ``kind`` its catalogue key
    (``order_filled``), the unit of the user's preferences.
    """

    class Level(models.TextChoices):
        INFO = "info", _("Information")
        SUCCESS = "success", _("Success")
        WARNING = "warning", _("Warning")
        CRITICAL = "critical", _("Critical")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(_("event"), max_length=64)
    kind = models.CharField(_("type"), max_length=40, db_index=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.INFO)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    link = models.CharField(_("link"), max_length=300, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="notif_owner_created"),
            models.Index(fields=["owner", "read_at"], name="notif_owner_read"),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """The channels one user chose for one notification type; no row = the catalogue's default."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="notification_preferences")
    kind = models.CharField(_("type"), max_length=40)
    in_app = models.BooleanField(_("in the app"), default=True)
    telegram = models.BooleanField(_("Telegram"), default=False)
    email = models.BooleanField(_("email"), default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "kind"], name="notif_pref_unique")]
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"{self.owner_id}:{self.kind}"


class NotificationSettings(models.Model):
    """Quiet hours (in the user's time zone) and the daily digest."""

    owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                 related_name="notification_settings")
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    digest_daily = models.BooleanField(_("daily digest"), default=False)
    digest_hour = models.PositiveSmallIntegerField(_("digest hour"), default=18)
    digest_sent_on = models.DateField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return f"{self.owner_id}"
