"""The audit log: every money or trading action records who acted, on what, before → after.

Services take a keyword-only ``actor`` and call ``audit_record`` inside their transaction. The actor
is who acted (the owner, an admin acting for them, the system, a strategy), which is not always the
owner of the data: ``owner`` is passed separately.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models

from core.models import AuditEntry

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    """Who acts. Build one with ``Actor.user``/``admin``/``system``/``strategy``/``from_request``."""

    kind: str
    user: Any = None
    label: str = ""
    door: str = ""
    ip: str | None = None

    @classmethod
    def of_user(cls, user: Any, *, door: str = "web", ip: str | None = None) -> Actor:
        return cls(AuditEntry.ActorKind.USER, user, "", door, ip)

    @classmethod
    def of_admin(cls, user: Any, *, ip: str | None = None) -> Actor:
        return cls(AuditEntry.ActorKind.ADMIN, user, "", "admin", ip)

    @classmethod
    def system(cls, label: str, *, door: str = "task") -> Actor:
        return cls(AuditEntry.ActorKind.SYSTEM, None, label, door, None)

    @classmethod
    def strategy(cls, label: str) -> Actor:
        return cls(AuditEntry.ActorKind.STRATEGY, None, label, "task", None)

    @classmethod
    def from_request(cls, request: HttpRequest, *, door: str = "web") -> Actor:
        """The signed-in user of a page or API request, with the client address (proxy-aware)."""
        ip = request.META.get("REMOTE_ADDR") or None
        if door == "admin":
            return cls.of_admin(request.user, ip=ip)
        return cls.of_user(request.user, door=door, ip=ip)

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "pk", None)


def audit_record(
    *,
    actor: Actor,
    action: str,
    owner: Any,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Write one audit row. ``before``/``after`` hold only what changed and never a secret."""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
        object_repr = str(target)[:200]
    else:
        object_repr = ""
    return AuditEntry.objects.create(
        owner=owner if getattr(owner, "pk", None) else None,
        actor=actor.user if getattr(actor.user, "pk", None) else None,
        actor_kind=actor.kind,
        actor_label=actor.label[:150],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        before=before or {},
        after=after or {},
        reason=reason[:500],
        door=actor.door,
        ip_address=actor.ip,
    )


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose value differs, as (before, after)."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}
