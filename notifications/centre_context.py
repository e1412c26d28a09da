"""Template context of the notification centre: the header bell's unread count."""

from functools import partial

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def bell(request: HttpRequest) -> dict:
    """``bell_unread`` for a signed-in user, nothing for anyone else. Counted (one COUNT query) when a
    template first reads it: every page's header bell does, the htmx fragments rendered with the same
    context processors (search results, table refreshes) do not. Never kept beyond the request."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from notifications.centre_selectors import unread_count

    return {"bell_unread": SimpleLazyObject(partial(unread_count, user=user))}
