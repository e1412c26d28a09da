from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts import preferences, selectors, services
from accounts.forms import PreferencesForm

PREFERENCES_SAVED = _("Your preferences were saved.")
TOKEN_REVOKED = _("The token was revoked; the app using it is signed out.")


def _apply(request: HttpRequest, changes: dict[str, str]) -> preferences.Preferences:
    """Save to the account when logged in; a visitor's choice lives in cookies only."""
    if request.user.is_authenticated:
        services.user_profile_update(user=request.user, **changes)
        return preferences.for_request(request)
    current = preferences.for_request(request)
    return preferences.Preferences(
        theme=changes.get("theme", current.theme),
        language=changes.get("language", current.language),
        timezone=changes.get("timezone", current.timezone),
        price_colors=changes.get("price_colors", current.price_colors),
    )


def settings_page(request: HttpRequest) -> HttpResponse:
    current = preferences.for_request(request)
    initial = {
        "theme": current.theme,
        "language": current.language,
        "timezone": current.timezone,
        "price_colors": current.price_colors,
    }
    if request.user.is_authenticated:
        initial["display_name"] = request.user.display_name
    form = PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not request.user.is_authenticated:
            changes.pop("display_name", None)
        try:
            chosen = _apply(request, changes)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            response = redirect("settings")
            preferences.set_cookies(response, chosen, current=request.COOKIES)
            # The message shows in the language just chosen.
            with translation.override(chosen.language):
                messages.success(request, str(PREFERENCES_SAVED))
            return response
    tokens = selectors.api_token_list(user=request.user) if request.user.is_authenticated else []
    return render(request, "accounts/settings.html", {"form": form, "tokens": tokens, "nav": "settings"})


@require_POST
def preferences_switch(request: HttpRequest) -> HttpResponse:
    """The quick theme and language switchers in the header, for visitors and users alike."""
    form = PreferencesForm(request.POST)
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = "/"
    response = redirect(next_url)
    if form.is_valid():
        changes = {k: v for k, v in form.changes().items() if k != "display_name"}
        chosen = _apply(request, changes)
        preferences.set_cookies(response, chosen, current=request.COOKIES)
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    services.api_token_revoke(token=selectors.api_token_get(user=request.user, pk=pk))
    messages.success(request, TOKEN_REVOKED)
    return redirect("settings")
