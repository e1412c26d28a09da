"""API of notifications: telegram. Whether the signed-in user's Telegram is linked, a new one-time
deep link to link it, and unlinking; the same services as the settings page (door ``api``)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.telegram_link import telegram_configured, telegram_link_get, telegram_link_start, telegram_unlink


class TelegramStateSerializer(serializers.Serializer):
    configured = serializers.BooleanField(help_text="Whether this server has a Telegram bot.")
    linked = serializers.BooleanField()
    username = serializers.CharField(allow_blank=True, help_text="The linked chat's Telegram username, if any.")
    linked_at = serializers.DateTimeField(allow_null=True)


class DeepLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="https://t.me/<bot>?start=<one-time token>")
    expires_at = serializers.DateTimeField()


def _state(user) -> dict:
    link = telegram_link_get(user=user)
    return {"configured": telegram_configured(), "linked": link is not None,
            "username": link.username if link else "", "linked_at": link.linked_at if link else None}


class TelegramApi(APIView):
    @extend_schema(responses=TelegramStateSerializer, summary="Your Telegram link")
    def get(self, request):
        return Response(TelegramStateSerializer(_state(request.user)).data)

    @extend_schema(request=None, responses={200: TelegramStateSerializer}, summary="Unlink your Telegram chat")
    def delete(self, request):
        telegram_unlink(user=request.user, door="api")
        return Response(TelegramStateSerializer(_state(request.user)).data)


class TelegramLinkApi(APIView):
    @extend_schema(request=None, responses={201: DeepLinkSerializer,
                                            400: OpenApiResponse(description="Telegram is not configured here")},
                   summary="A new one-time link to open in Telegram")
    def post(self, request):
        """The link works once, for ``TELEGRAM_LINK_TOKEN_MINUTES``; earlier links stop working."""
        deep_link = telegram_link_start(user=request.user, door="api")
        return Response(DeepLinkSerializer({"url": deep_link.url, "expires_at": deep_link.expires_at}).data,
                        status=201)


api_urlpatterns: list = [
    path("telegram/", TelegramApi.as_view(), name="telegram"),
    path("telegram/link/", TelegramLinkApi.as_view(), name="telegram_link"),
]
