from allauth.account.signals import user_signed_up
from django.dispatch import receiver

from accounts import preferences, services


@receiver(user_signed_up)
def adopt_visitor_preferences(sender, request, user, **kwargs) -> None:
    if request is not None:
        services.user_preferences_adopt(user=user, preferences=preferences.from_cookies(request.COOKIES))
