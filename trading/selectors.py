"""Reads of trading, always scoped to the owner: another user's account does not exist for you."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from trading.models import BrokerAccount


def broker_account_list(*, user: Any) -> QuerySet[BrokerAccount]:
    return BrokerAccount.objects.filter(owner=user).order_by("created_at", "pk")


def broker_account_get(*, user: Any, pk: int) -> BrokerAccount:
    """The user's account ``pk``; Http404 for anyone else's (pages 404, the API its 404 body)."""
    return get_object_or_404(BrokerAccount.objects.filter(owner=user), pk=pk)


def _number(text: Any) -> Decimal | None:
    try:
        return None if text in (None, "") else Decimal(str(text))
    except InvalidOperation:
        return None


def balance_view(account: BrokerAccount) -> dict[str, Any] | None:
    """The account's last balance with Decimals, for pages: None when never read."""
    snapshot = account.balance_snapshot or {}
    if not snapshot:
        return None
    positions = []
    for row in snapshot.get("positions", []):
        positions.append({key: (_number(value) if key not in ("symbol", "name") else value) for key, value in row.items()})
    return {
        **{key: _number(value) for key, value in snapshot.items() if key != "positions"},
        "positions": positions,
        "at": account.balance_at,
    }
