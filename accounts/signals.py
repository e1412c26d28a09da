from allauth.account.signals import password_reset, user_signed_up
from allauth.account.signals import email_confirmed
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import lockout, preferences, services
from accounts.models import ApiToken, User
from core import edge


@receiver(user_signed_up)
def adopt_visitor_preferences(sender, request, user, **kwargs) -> None:
    if request is not None:
        services.user_preferences_adopt(user=user, preferences=preferences.from_cookies(request.COOKIES))


@receiver(password_reset)
def unlock_on_password_reset(sender, request, user, **kwargs) -> None:
    """Whoever proved they read the account's email may sign in again at once."""
    lockout.account_unlock(user=user, by="password reset")


@receiver(user_logged_out)
def forget_edge_on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        edge.forget_user(user.pk)


@receiver(post_save, sender=User)
def forget_edge_on_user_change(sender, instance: User, **kwargs) -> None:
    """Password, preferences, deactivation: the edge cache asks Django again."""
    edge.forget_user(instance.pk)


@receiver(post_delete, sender=ApiToken)
def forget_edge_on_token_revoke(sender, instance: ApiToken, **kwargs) -> None:
    edge.forget_user(instance.user_id)


@receiver(email_confirmed)
def reward_invite_on_email_confirmed(sender, request, email_address, **kwargs) -> None:
    """An invitee's verified address decides their invitation (accounts.invites)."""
    from accounts import invites

    invites.email_confirmed_handle(user=email_address.user, email=email_address.email)
