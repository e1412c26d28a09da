"""Webhooks API: thin doors onto the same selectors and services as the pages.

``/api/v1/webhooks/`` lists and creates; ``/api/v1/webhooks/<id>/`` reads, changes (events, URL) and
deletes; ``rotate/``, ``enable/`` and ``test/`` act. The secret appears only in the answers of
create and rotate. Another user's webhook answers 404; a bad URL or an unknown kind 400 with the
field's message.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import Actor
from notifications import webhook_selectors as selectors
from notifications import webhook_services as services
from notifications.models import WebhookDelivery, WebhookEndpoint

NOT_FOUND = OpenApiResponse(description="Not found (or not yours)")
INVALID = OpenApiResponse(description="Invalid input: a bad URL, an unknown kind of event")


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "kind", "state", "attempts", "last_status", "last_error", "next_attempt_at",
                  "delivered_at", "created_at"]
        read_only_fields = fields


class WebhookOutputSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField(), help_text="The kinds of event sent.")
    recent_deliveries = DeliverySerializer(source="recent", many=True, read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "is_active", "consecutive_failures", "disabled_at", "disabled_reason",
                  "created_at", "recent_deliveries"]
        read_only_fields = fields


class WebhookWithSecretSerializer(WebhookOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret: shown only in this answer. Keep it safe.")

    class Meta(WebhookOutputSerializer.Meta):
        fields = [*WebhookOutputSerializer.Meta.fields, "secret"]
        read_only_fields = fields


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict:
    if not hasattr(endpoint, "recent"):
        endpoint.recent = []
    data = WebhookOutputSerializer(endpoint).data
    return {**data, "secret": secret}


class WebhookListApi(APIView):
    class WebhookCreateSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=500, help_text="http(s) URL; HTTPS in production; public addresses only.")
        events = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=True,
                                       help_text="Kinds of event to send (the notification catalogue's keys).")

    @extend_schema(responses=WebhookOutputSerializer(many=True), summary="Your webhooks")
    def get(self, request):
        return Response(WebhookOutputSerializer(selectors.webhook_list(user=request.user), many=True).data)

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookWithSecretSerializer, 400: INVALID},
                   summary="Register a webhook (its secret is in this answer only)")
    def post(self, request):
        data = self.WebhookCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_create(actor=Actor.from_request(request, door="api"), owner=request.user,
                                                   **data.validated_data)
        response = Response(_with_secret(endpoint, secret), status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class WebhookDetailApi(APIView):
    class WebhookUpdateSerializer(serializers.Serializer):
        url = serializers.CharField(max_length=500, required=False)
        events = serializers.ListField(child=serializers.CharField(max_length=40), required=False)

    @extend_schema(responses={200: WebhookOutputSerializer, 404: NOT_FOUND})
    def get(self, request, pk: int):
        return Response(WebhookOutputSerializer(selectors.webhook_get(user=request.user, pk=pk)).data)

    @extend_schema(request=WebhookUpdateSerializer, responses={200: WebhookOutputSerializer, 400: INVALID,
                                                               404: NOT_FOUND}, summary="Change the events or URL")
    def patch(self, request, pk: int):
        endpoint = selectors.webhook_get(user=request.user, pk=pk)
        data = self.WebhookUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.webhook_update(actor=Actor.from_request(request, door="api"), endpoint=endpoint,
                                events=data.validated_data.get("events", endpoint.events),
                                url=data.validated_data.get("url"))
        return Response(WebhookOutputSerializer(selectors.webhook_get(user=request.user, pk=pk)).data)

    @extend_schema(responses={204: None, 404: NOT_FOUND}, summary="Delete")
    def delete(self, request, pk: int):
        endpoint = selectors.webhook_get(user=request.user, pk=pk, deliveries=0)
        services.webhook_delete(actor=Actor.from_request(request, door="api"), endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateApi(APIView):
    @extend_schema(request=None, responses={200: WebhookWithSecretSerializer, 404: NOT_FOUND},
                   summary="Replace the secret (the new one is in this answer only)")
    def post(self, request, pk: int):
        endpoint = selectors.webhook_get(user=request.user, pk=pk)
        secret = services.webhook_secret_rotate(actor=Actor.from_request(request, door="api"), endpoint=endpoint)
        response = Response(_with_secret(endpoint, secret))
        response["Cache-Control"] = "no-store"
        return response


class WebhookEnableApi(APIView):
    @extend_schema(request=None, responses={200: WebhookOutputSerializer, 404: NOT_FOUND},
                   summary="Enable again (the count of failures starts over)")
    def post(self, request, pk: int):
        endpoint = selectors.webhook_get(user=request.user, pk=pk)
        services.webhook_enable(actor=Actor.from_request(request, door="api"), endpoint=endpoint)
        return Response(WebhookOutputSerializer(endpoint).data)


class WebhookTestApi(APIView):
    @extend_schema(request=None, responses={202: DeliverySerializer, 400: INVALID, 404: NOT_FOUND},
                   summary="Send a webhook.test event to this webhook")
    def post(self, request, pk: int):
        endpoint = selectors.webhook_get(user=request.user, pk=pk, deliveries=0)
        delivery = services.webhook_test_send(actor=Actor.from_request(request, door="api"), endpoint=endpoint)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


api_urlpatterns: list = [
    path("webhooks/", WebhookListApi.as_view(), name="webhook_list"),
    path("webhooks/<int:pk>/", WebhookDetailApi.as_view(), name="webhook_detail"),
    path("webhooks/<int:pk>/rotate/", WebhookRotateApi.as_view(), name="webhook_rotate"),
    path("webhooks/<int:pk>/enable/", WebhookEnableApi.as_view(), name="webhook_enable"),
    path("webhooks/<int:pk>/test/", WebhookTestApi.as_view(), name="webhook_test"),
]
