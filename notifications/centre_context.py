"""Template context of the notification centre: the header bell's unread count."""

from django.http import HttpRequest


def bell(request: HttpRequest) -> dict:
    """``bell_unread`` for a signed-in user (one COUNT query), nothing for anyone else."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from notifications.centre_selectors import unread_count

    return {"bell_unread": unread_count(user=user)}
