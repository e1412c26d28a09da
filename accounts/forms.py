import functools
import zoneinfo

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import COMMON_TIMEZONES, Language, PriceColors, Theme
from core.errors import ApplicationError


@functools.cache
def timezone_choices() -> list[tuple[str, str]]:
    """The common zones first, then every other IANA name (read from disk once per process)."""
    others = sorted(zoneinfo.available_timezones() - set(COMMON_TIMEZONES))
    return [(name, name) for name in COMMON_TIMEZONES] + [(name, name) for name in others]


class ZoneSelect(forms.Select):
    """The time zone <select>: its ~600 options are rendered once per chosen zone and attributes and
    kept (the zones never change while the process runs), instead of ~30 ms of template work a page."""

    _rendered: dict[tuple, str] = {}

    def render(self, name, value, attrs=None, renderer=None):
        if value not in dict(timezone_choices()) or len(self._rendered) > 2000:
            return super().render(name, value, attrs, renderer)
        key = (name, value, tuple(sorted({**self.attrs, **(attrs or {})}.items())), type(renderer).__name__)
        if key not in self._rendered:
            self._rendered[key] = super().render(name, value, attrs, renderer)
        return self._rendered[key]


class PreferencesForm(forms.Form):
    """Any subset may be posted (the quick switchers send one field)."""

    theme = forms.ChoiceField(label=_("Theme"), choices=Theme.choices, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices, required=False)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices, required=False, widget=ZoneSelect)
    price_colors = forms.ChoiceField(
        label=_("Price colours"), choices=PriceColors.choices, required=False, widget=forms.RadioSelect
    )
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)

    def changes(self) -> dict[str, str]:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name in self.data and (value or name == "display_name")
        }


class MfaAuthenticateForm(AuthenticateForm):
    """The login page's 2FA step (MFA_FORMS): the code is checked by the same service as the API's,
    so a wrong code counts towards the account's lock and a locked account is refused here too."""

    def clean_code(self) -> str:
        from accounts.services import second_factor_verify

        code = self.cleaned_data["code"]
        try:
            self.authenticator = second_factor_verify(request=context.request, user=self.user, code=code)
        except ApplicationError as error:
            raise forms.ValidationError(error.message, code=error.code) from error
        self.authenticator.user = self.user
        return code


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form with the optional invite code (``ACCOUNT_FORMS["signup"]``).

    The code comes prefilled from the link's ``?invite=``, which is also kept in the session, so a
    visitor who looks around before signing up still has it. An unknown code, or one's own, is an
    error on the field (the person fixes or clears it); a good one is attributed at sign-up."""

    invite = forms.CharField(label=_("Invite code (optional)"), required=False, max_length=20, widget=forms.TextInput(
        attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}))

    def __init__(self, *args, **kwargs) -> None:
        from accounts import invites

        super().__init__(*args, **kwargs)
        request = context.request
        if request is not None and hasattr(request, "session"):
            from_link = invites.code_normalize(request.GET.get("invite", ""))
            if from_link:
                request.session[invites.SESSION_KEY] = from_link
            self.fields["invite"].initial = from_link or request.session.get(invites.SESSION_KEY, "")
        self.order_fields([name for name in self.fields if name != "invite"] + ["invite"])

    def clean(self) -> dict:
        from accounts import invites

        cleaned = super().clean()
        code = invites.code_normalize(cleaned.get("invite", ""))
        if code:
            try:
                cleaned["invite"] = invites.invite_code_check(code=code, email=cleaned.get("email") or "").code
            except ApplicationError as error:
                self.add_error("invite", error.message)
        return cleaned

    def custom_signup(self, request, user) -> None:
        from accounts import invites

        fingerprint = invites.Fingerprint.of_request(request)
        invites.signup_fingerprint_record(user=user, fingerprint=fingerprint)
        code = self.cleaned_data.get("invite")
        if code:
            try:
                invites.invitation_create(invitee=user, code=code, fingerprint=fingerprint)
            except ApplicationError:
                pass  # the inviter was deactivated since the form was checked: a sign-up without invite
        if request is not None and hasattr(request, "session"):
            request.session.pop(invites.SESSION_KEY, None)
