"""Notification centre API under ``/api/v1/notifications/``: thin doors onto the centre's selectors and services.

- ``GET notifications/`` (``unread=true``, ``category=<key>``, paginated), ``POST notifications/<id>/read/``,
  ``POST notifications/read-all/``, ``GET notifications/unread-count/``.
- ``GET/PUT notifications/preferences/``: channels per kind, quiet hours, digest.
- Another user's notification answers 404; bad input 400 with each field's messages (``core.api``'s body).
"""

from __future__ import annotations

from django.db import transaction
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import limits
from core.api import Pagination
from core.audit import Actor
from notifications import catalog, centre_selectors, centre_services
from notifications.models import Notification

NOT_FOUND = OpenApiResponse(description="Not found (or not yours)")
INVALID = OpenApiResponse(description="Invalid input (the error names the field)")


class NotificationSerializer(serializers.ModelSerializer):
    category = serializers.SerializerMethodField()
    read = serializers.BooleanField(source="is_read")

    class Meta:
        model = Notification
        fields = ["id", "kind", "event", "category", "level", "title", "body", "link", "read", "read_at", "created_at"]
        read_only_fields = fields

    def get_category(self, notification: Notification) -> str:
        kind = catalog.KINDS.get(notification.kind)
        return kind.category if kind else ""


class NotificationFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(required=False, default=False)
    category = serializers.ChoiceField(choices=list(catalog.CATEGORIES), required=False, default="")


class NotificationChannelsSerializer(serializers.Serializer):
    in_app = serializers.BooleanField(required=False)
    telegram = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)


class NotificationPreferencesSerializer(serializers.Serializer):
    """Channels per kind (every kind of the catalogue), quiet hours in your time zone, the daily digest."""

    kinds = serializers.DictField(child=NotificationChannelsSerializer(), required=False,
                                  help_text="{kind: {in_app, telegram, email}}; kinds left out keep their choice.")
    quiet_start = serializers.TimeField(required=False, allow_null=True, format="%H:%M")
    quiet_end = serializers.TimeField(required=False, allow_null=True, format="%H:%M")
    digest_daily = serializers.BooleanField(required=False)
    digest_hour = serializers.IntegerField(required=False, min_value=0, max_value=23)

    def validate_kinds(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(catalog.KINDS))
        if unknown:
            raise serializers.ValidationError(str(centre_services.UNKNOWN_KIND) % {"kind": ", ".join(unknown)})
        return value


class NotificationKindChoiceSerializer(NotificationChannelsSerializer):
    label = serializers.CharField()
    category = serializers.ChoiceField(choices=list(catalog.CATEGORIES))
    critical = serializers.BooleanField(help_text="Passes quiet hours.")


class NotificationPreferencesOutputSerializer(serializers.Serializer):
    kinds = serializers.DictField(child=NotificationKindChoiceSerializer())
    quiet_start = serializers.CharField(allow_null=True, help_text="HH:MM in your time zone, or null.")
    quiet_end = serializers.CharField(allow_null=True, help_text="HH:MM in your time zone, or null.")
    digest_daily = serializers.BooleanField()
    digest_hour = serializers.IntegerField(min_value=0, max_value=23)
    telegram_linked = serializers.BooleanField()


def _preferences(user) -> dict:
    from notifications.models import TelegramLink

    row = centre_selectors.settings_get(user=user)
    return {
        "kinds": {c.kind.key: {"label": str(c.kind.label), "category": c.kind.category, "critical": c.kind.critical,
                               "in_app": c.in_app, "telegram": c.telegram, "email": c.email}
                  for c in centre_selectors.preference_list(user=user)},
        "quiet_start": row.quiet_start.strftime("%H:%M") if row.quiet_start else None,
        "quiet_end": row.quiet_end.strftime("%H:%M") if row.quiet_end else None,
        "digest_daily": row.digest_daily,
        "digest_hour": row.digest_hour,
        "telegram_linked": TelegramLink.objects.filter(owner=user).exists(),
    }


class NotificationListApi(APIView):
    pagination_class = Pagination

    @extend_schema(parameters=[NotificationFilterSerializer], responses={200: NotificationSerializer(many=True), 400: INVALID},
                   summary="Your notifications, newest first")
    def get(self, request):
        filters = NotificationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = centre_selectors.notification_list(user=request.user, **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(NotificationSerializer(page, many=True).data)


class NotificationReadApi(APIView):
    @extend_schema(request=None, responses={200: NotificationSerializer, 404: NOT_FOUND}, summary="Mark one read")
    def post(self, request, pk: int):
        notification = centre_selectors.notification_get(user=request.user, pk=min(pk, limits.MAX_ID))
        notification = centre_services.notification_mark_read(user=request.user, notification=notification)
        return Response(NotificationSerializer(notification).data)


class NotificationReadAllApi(APIView):
    class ReadAllSerializer(serializers.Serializer):
        marked = serializers.IntegerField()
        unread = serializers.IntegerField()

    @extend_schema(request=None, parameters=[OpenApiParameter("category", str, enum=list(catalog.CATEGORIES))],
                   responses={200: ReadAllSerializer, 400: INVALID}, summary="Mark all read (of one category)")
    def post(self, request):
        given = "category" in request.query_params or "category" in request.data
        category = request.query_params.get("category") or request.data.get("category") or ""
        if given and category not in catalog.CATEGORIES:  # an empty category is not "all": leave it out for all
            raise serializers.ValidationError({"category": [str(serializers.ChoiceField.default_error_messages[
                "invalid_choice"]).format(input=category)]})
        marked = centre_services.notifications_mark_all_read(user=request.user, category=category)
        return Response({"marked": marked, "unread": centre_selectors.unread_count(user=request.user)})


class UnreadCountApi(APIView):
    class UnreadCountSerializer(serializers.Serializer):
        unread = serializers.IntegerField()

    @extend_schema(responses=UnreadCountSerializer, summary="How many notifications are unread")
    def get(self, request):
        return Response({"unread": centre_selectors.unread_count(user=request.user)})


class PreferencesApi(APIView):
    @extend_schema(responses=NotificationPreferencesOutputSerializer, summary="Your notification preferences")
    def get(self, request):
        return Response(_preferences(request.user))

    @extend_schema(request=NotificationPreferencesSerializer, responses={200: NotificationPreferencesOutputSerializer, 400: INVALID},
                   summary="Change your notification preferences (fields left out keep their value)")
    def put(self, request):
        data = NotificationPreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        actor = Actor.from_request(request, door="api")
        with transaction.atomic():
            self._save(actor, request.user, values)
        return Response(_preferences(request.user))

    @staticmethod
    def _save(actor: Actor, user, values: dict) -> None:
        if "kinds" in values:
            centre_services.preferences_save(actor=actor, user=user,
                                             choices={k: dict(v) for k, v in values["kinds"].items()})
        current = centre_selectors.settings_get(user=user)
        centre_services.settings_save(
            actor=actor, user=user,
            quiet_start=values.get("quiet_start", current.quiet_start),
            quiet_end=values.get("quiet_end", current.quiet_end),
            digest_daily=values.get("digest_daily", current.digest_daily),
            digest_hour=values.get("digest_hour", current.digest_hour))


api_urlpatterns: list = [
    path("notifications/", NotificationListApi.as_view(), name="notification_list"),
    path("notifications/<int:pk>/read/", NotificationReadApi.as_view(), name="notification_read"),
    path("notifications/read-all/", NotificationReadAllApi.as_view(), name="notification_read_all"),
    path("notifications/unread-count/", UnreadCountApi.as_view(), name="notification_unread_count"),
    path("notifications/preferences/", PreferencesApi.as_view(), name="notification_preferences"),
]
