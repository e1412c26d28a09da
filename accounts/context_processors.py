from django.conf import settings

from accounts import preferences as prefs


def site(request) -> dict:
    return {
        "preferences": getattr(request, "preferences", None) or prefs.for_request(request),
        "SITE_NAME": settings.SITE_NAME,
        "LANGUAGE_CHOICES": settings.LANGUAGES,
    }
