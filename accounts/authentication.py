from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from accounts import services
from accounts.models import ApiToken, hash_token_key

INVALID_TOKEN = _("Invalid or revoked token.")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>`` (or ``Bearer <key>``), as issued by /api/v1/auth/token/."""

    keywords = ("token", "bearer")

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].decode(errors="ignore").lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        key = parts[1].decode(errors="ignore")
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token_key(key)).first()
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(INVALID_TOKEN)
        services.api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"
