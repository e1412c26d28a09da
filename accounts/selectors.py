"""Reads of account data, always scoped to the owner."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import ApiToken, User


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def api_token_get(*, user: User, pk: int) -> ApiToken:
    """The user's token, or Http404 (another user's token does not exist for you)."""
    return get_object_or_404(api_token_list(user=user), pk=pk)
