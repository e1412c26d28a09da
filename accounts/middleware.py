from django.utils import timezone
from django.utils.cache import patch_vary_headers

from accounts import preferences


class PreferencesMiddleware:
    """Activate the language and time zone of the request, and keep the cookies in step.

    Korean is the default for everyone without a choice (the browser's
    Accept-Language is deliberately not consulted: this is a Korean product).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        prefs = preferences.for_request(request)
        request.preferences = prefs
        preferences.activate(prefs)
        request.LANGUAGE_CODE = prefs.language

        response = self.get_response(request)

        # The user may have logged in or changed preferences during this request:
        # the cookies follow the account, so the look stays after logout.
        final = preferences.for_request(request)
        if request.user.is_authenticated:
            preferences.set_cookies(response, final, current=request.COOKIES)
        response.headers.setdefault("Content-Language", final.language)
        patch_vary_headers(response, ("Cookie",))
        timezone.deactivate()
        return response
