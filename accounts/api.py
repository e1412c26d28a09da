"""Accounts API: tokens for the mobile app, and the user's own profile and preferences."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import lockout, selectors, services
from accounts.authentication import ApiTokenAuthentication
from accounts.models import COMMON_TIMEZONES, ApiToken, Language, PriceColors, Theme, User, red_up, validate_timezone


SIGN_IN_REFUSED = OpenApiResponse(
    response=inline_serializer(
        "SignInRefused",
        {
            "error": inline_serializer(
                "SignInRefusedError",
                {
                    "status": serializers.IntegerField(),
                    "code": serializers.ChoiceField(
                        choices=[lockout.AccountLocked.code, lockout.TooManyAttempts.code, "throttled"]
                    ),
                    "message": serializers.CharField(),
                },
            )
        },
    ),
    description=(
        "Sign-in refused for now, even with the right password and code. `account_locked`: too many "
        "failed attempts on this account, by any door (login page, its 2FA step, this endpoint); it "
        "lifts after LOGIN_LOCK_MINUTES, by a password reset, or by an admin, and tokens already "
        "issued keep working. `too_many_attempts`: too many failed attempts from this address. "
        "`throttled`: too many requests to this endpoint."
    ),
)


class TokenCreateApi(APIView):
    """Trade email + password (+ a TOTP or recovery code when 2FA is on) for a token."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(trim_whitespace=False)
        otp_code = serializers.CharField(required=False, allow_blank=True, default="")
        device_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        token = serializers.CharField()
        user = serializers.EmailField()

    def _is_login(self) -> bool:
        # Schema generation inspects the view without a request.
        return getattr(getattr(self, "request", None), "method", "POST") == "POST"

    def get_authenticators(self):
        # Logging in takes no credentials but the body; revoking takes the token itself.
        return [] if self._is_login() else [ApiTokenAuthentication()]

    def get_permissions(self):
        return [AllowAny()] if self._is_login() else [IsAuthenticated()]

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer, 429: SIGN_IN_REFUSED}, auth=[])
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, key = services.api_token_issue(**data.validated_data, request=request._request)
        body = self.OutputSerializer({"id": token.pk, "token": key, "user": token.user.email}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        """Revoke the token this request is authenticated with (log out of the app)."""
        services.api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]


class TokenListApi(generics.ListAPIView):
    """The devices signed in with a token (newest first)."""

    serializer_class = TokenOutputSerializer
    queryset = ApiToken.objects.none()  # for the schema; requests use the selector

    def get_queryset(self):
        return selectors.api_token_list(user=self.request.user)


class TokenDetailApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.api_token_revoke(token=selectors.api_token_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeSerializer(serializers.ModelSerializer):
    mfa_enabled = serializers.SerializerMethodField()
    theme = serializers.ChoiceField(choices=Theme.choices, required=False)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    timezone = serializers.CharField(
        required=False, validators=[validate_timezone], help_text=f"An IANA zone, e.g. {', '.join(COMMON_TIMEZONES[:3])}"
    )
    price_colors = serializers.ChoiceField(
        choices=PriceColors.choices,
        required=False,
        help_text="Which colour means up: `kr` red up and blue down (the Korean convention), `intl` green up "
        "and red down, `auto` (the default) follows the language: red up in Korean, green up in English.",
    )
    red_up = serializers.SerializerMethodField(
        help_text="What `price_colors` resolves to now: true when rises are shown in red."
    )

    class Meta:
        model = User
        fields = [
            "id", "email", "display_name", "date_joined", "mfa_enabled",
            "theme", "language", "timezone", "price_colors", "red_up",
        ]  # fmt: skip
        read_only_fields = ["id", "email", "date_joined", "mfa_enabled", "red_up"]

    def get_red_up(self, user: User) -> bool:
        return red_up(user.price_colors, user.language)

    def get_mfa_enabled(self, user: User) -> bool:
        from allauth.mfa.utils import is_mfa_enabled

        return is_mfa_enabled(user)


class MeApi(APIView):
    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses={200: MeSerializer})
    def patch(self, request):
        data = MeSerializer(request.user, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_profile_update(user=request.user, **data.validated_data)
        return Response(MeSerializer(user).data)

