"""What every app shares: timestamps on every row."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class BaseModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditEntry(models.Model):
    """One money or trading action: who acted, for whom, on what, the change, when, from where.

    Written only by ``core.audit.audit_record`` inside the acting service's transaction, so an
    action and its audit row commit or roll back together. Never edited (read-only in the admin).
    ``actor`` is the person who acted (the owner, or an admin acting for them); ``actor_kind`` says
    which, or ``system`` / ``strategy`` with ``actor_label`` naming it (a task, a deployment).
    """

    class ActorKind(models.TextChoices):
        USER = "user", _("User")
        ADMIN = "admin", _("Admin")
        SYSTEM = "system", _("System")
        STRATEGY = "strategy", _("Strategy")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries",
        help_text=_("Whose data the action touched."),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_actions",
    )
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    door = models.CharField(max_length=20, blank=True, help_text=_("web, api, admin, task, telegram, cli"))
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"
from core.models_system import SystemSettings  # noqa: E402,F401
