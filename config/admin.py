"""The operators' console: Django's admin behind allauth's login, with 2FA for staff."""

from allauth.account.decorators import secure_admin_login
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

ADMIN_NEEDS_2FA = _("Turn on two-factor authentication to use the admin.")


class PlatformAdminSite(admin.AdminSite):
    site_header = _("Operators' console")
    site_title = _("Operators' console")
    index_title = _("Administration")

    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        return not settings.ADMIN_REQUIRE_2FA or is_mfa_enabled(request.user)

    def login(self, request, extra_context=None):
        # Signing in always goes through allauth (rate limits, the MFA stage).
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and not self.has_permission(request):
            messages.warning(request, ADMIN_NEEDS_2FA)
            return redirect("mfa_activate_totp")
        return secure_admin_login(super().login)(request, extra_context)
