"""API of a user's own risk settings: ``GET``/``PATCH /api/v1/risk-settings/`` (always the caller's
row; a bad value answers 400 with the message on its field)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import Actor
from trading.live.models import RiskSettings
from trading.live.risk_settings import risk_settings_get, risk_settings_update

INVALID = OpenApiResponse(description="Invalid input (the message is on its field)")
PERCENT_HELP = "Percent of your equity, above 0 and at most 100 (two decimals); null for no limit. Omitted: unchanged."


class RiskSettingsOutputSerializer(serializers.ModelSerializer):
    updated_at = serializers.DateTimeField(allow_null=True, read_only=True,
                                           help_text="When they were last saved; null: never (no limits).")

    class Meta:
        model = RiskSettings
        fields = ["max_symbol_share", "max_sector_share", "max_symbols", "daily_loss_limit", "updated_at"]
        read_only_fields = fields


class RiskSettingsApi(APIView):
    class RiskSettingsInputSerializer(serializers.Serializer):
        max_symbol_share = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True,
                                                    required=False, help_text=PERCENT_HELP)
        max_sector_share = serializers.DecimalField(max_digits=None, decimal_places=None, allow_null=True,
                                                    required=False, help_text=PERCENT_HELP)
        max_symbols = serializers.IntegerField(allow_null=True, required=False,
                                               help_text="Most symbols held, 1 to 1,000; null for no limit.")
        daily_loss_limit = serializers.DecimalField(
            max_digits=None, decimal_places=None, allow_null=True, required=False,
            help_text="Today's loss, in percent of the day's starting equity, that pauses every deployment; "
                      "null for no limit.")

    @extend_schema(responses={200: RiskSettingsOutputSerializer}, summary="Your risk settings (null: no limit)")
    def get(self, request):
        return Response(RiskSettingsOutputSerializer(risk_settings_get(user=request.user)).data)

    @extend_schema(request=RiskSettingsInputSerializer, responses={200: RiskSettingsOutputSerializer, 400: INVALID},
                   summary="Change some of your risk settings (the conflict guard applies them to every deployment)")
    def patch(self, request):
        data = self.RiskSettingsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = risk_settings_update(actor=Actor.from_request(request, door="api"), user=request.user,
                                   **data.validated_data)
        return Response(RiskSettingsOutputSerializer(row).data)
