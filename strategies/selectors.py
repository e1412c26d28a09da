"""Reads of strategies and watchlists, always scoped to the owner.

Another user's strategy or watchlist does not exist for you: the ``*_get`` selectors raise Http404
(pages answer 404, the API its 404 error body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from marketdata.models import Instrument
from strategies.models import Strategy, Watchlist


def _instruments() -> QuerySet[Instrument]:
    return Instrument.objects.order_by("code")


def strategy_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[Strategy]:
    """The user's strategies, most recently changed first, universes prefetched.

    ``filters``: ``strategy_type`` (exact), ``q`` (part of the name, any case), ``watchlist`` (a
    watchlist id: the strategies trading it); empty values are ignored.
    """
    filters = filters or {}
    strategies = (
        Strategy.objects.filter(owner=user)
        .select_related("watchlist")
        .prefetch_related(
            Prefetch("instruments", queryset=_instruments()),
            Prefetch("watchlist__instruments", queryset=_instruments()),
        )
    )
    if filters.get("strategy_type"):
        strategies = strategies.filter(strategy_type=filters["strategy_type"])
    if filters.get("watchlist"):
        strategies = strategies.filter(watchlist_id=filters["watchlist"])
    if query := str(filters.get("q") or "").replace("\x00", "").strip():  # PostgreSQL refuses NUL in a string
        strategies = strategies.filter(name__icontains=query)
    return strategies


def strategy_choices(*, user: User) -> QuerySet[Strategy]:
    """The user's strategies for a form's choice field: the rows alone (a <select> shows the names;
    the universes ``strategy_list`` prefetches would be read and thrown away on every page)."""
    return Strategy.objects.filter(owner=user)


def strategy_get(*, user: User, pk: int) -> Strategy:
    """The user's strategy ``pk``; Http404 when there is none (or it is someone else's)."""
    return get_object_or_404(strategy_list(user=user), pk=pk)


def watchlist_list(*, user: User) -> QuerySet[Watchlist]:
    """The user's watchlists by name, instruments prefetched (ordered by code)."""
    return Watchlist.objects.filter(owner=user).prefetch_related(Prefetch("instruments", queryset=_instruments()))


def watchlist_get(*, user: User, pk: int) -> Watchlist:
    """The user's watchlist ``pk``; Http404 when there is none (or it is someone else's)."""
    return get_object_or_404(watchlist_list(user=user), pk=pk)
