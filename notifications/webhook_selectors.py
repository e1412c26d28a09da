"""Reads of users' webhooks, always scoped to their owner (another user's webhook is a 404)."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from notifications.models import WebhookDelivery, WebhookEndpoint

RECENT_DELIVERIES = 5


def _recent(limit: int) -> Prefetch:
    # a sliced prefetch: one query for every endpoint's latest deliveries (a window function)
    return Prefetch("deliveries", queryset=WebhookDelivery.objects.order_by("-id")[:limit], to_attr="recent")


def webhook_list(*, user: Any, deliveries: int = RECENT_DELIVERIES) -> QuerySet[WebhookEndpoint]:
    """The user's endpoints, each with ``recent``: its latest deliveries, newest first."""
    return WebhookEndpoint.objects.filter(owner=user).order_by("id").prefetch_related(_recent(deliveries))


def webhook_get(*, user: Any, pk: int, deliveries: int = 20) -> WebhookEndpoint:
    """The user's endpoint ``pk`` with its latest deliveries; Http404 for anyone else's."""
    return get_object_or_404(webhook_list(user=user, deliveries=deliveries), pk=pk)
