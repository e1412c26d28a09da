import zoneinfo

from allauth.core import context
from allauth.mfa.base.forms import AuthenticateForm
from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import COMMON_TIMEZONES, Language, PriceColors, Theme
from core.errors import ApplicationError


def timezone_choices() -> list[tuple[str, str]]:
    others = sorted(zoneinfo.available_timezones() - set(COMMON_TIMEZONES))
    return [(name, name) for name in COMMON_TIMEZONES] + [(name, name) for name in others]


class PreferencesForm(forms.Form):
    """Any subset may be posted (the quick switchers send one field)."""

    theme = forms.ChoiceField(label=_("Theme"), choices=Theme.choices, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=Language.choices, required=False)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices, required=False)
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
