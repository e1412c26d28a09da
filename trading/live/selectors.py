"""Reads of deployments, always filtered by owner (another user's deployment is a 404)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.errors import NotFound
from trading.live.models import ACTIVE_STATES, Deployment, DeploymentDay, DeploymentSignal, DeploymentState


def deployment_list(*, user: Any) -> QuerySet[Deployment]:
    return Deployment.objects.filter(owner=user).select_related("strategy", "account")


def deployment_get(*, user: Any, pk: int) -> Deployment:
    """The user's deployment ``pk``; ``NotFound`` for a missing one or another user's."""
    found = deployment_list(user=user).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such deployment."))
    return found


def deployments_running(*, user: Any, real: bool | None = None) -> QuerySet[Deployment]:
    """The user's running (or paused: still holding a slot) deployments; ``real`` filters real-money ones."""
    rows = Deployment.objects.filter(owner=user, state__in=ACTIVE_STATES)
    return rows if real is None else rows.filter(real_money=real)


def deployment_signals(*, user: Any, deployment: Deployment) -> QuerySet[DeploymentSignal]:
    return DeploymentSignal.objects.filter(deployment__owner=user, deployment=deployment).select_related("order")


def deployment_days(*, user: Any, deployment: Deployment) -> QuerySet[DeploymentDay]:
    return DeploymentDay.objects.filter(deployment__owner=user, deployment=deployment).order_by("day")


def running_deployments() -> QuerySet[Deployment]:
    """Every running deployment of the platform (the runner's work list; not a per-user read)."""
    return Deployment.objects.filter(state=DeploymentState.RUNNING).select_related("account", "owner")


__all__ = ["deployment_days", "deployment_get", "deployment_list", "deployment_signals", "deployments_running",
           "running_deployments"]
