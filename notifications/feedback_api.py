"""Feedback API (the app's feedback button): file a report (multipart, with an optional screenshot, or
JSON without one), list one's own reports, read one (404 for anyone else's). Thin doors onto
``feedback_submit`` and the owner-filtered selectors; a refusal is 400 with the message on its field."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import Pagination
from core.parsers import JSONParser
from notifications import feedback_selectors
from notifications.feedback_services import TEXT_LIMIT, WHAT_HAPPENED_REQUIRED, feedback_submit
from notifications.models.feedback import FeedbackReport
from notifications.request_ids import recent_request_ids

INVALID = OpenApiResponse(description="Refused: the message on each field at fault (what_happened missing, "
                                      "a screenshot too large or not a PNG/JPEG/WebP image, too many reports)")


class FeedbackOutputSerializer(serializers.ModelSerializer):
    severity = serializers.CharField(allow_null=True, help_text="P0-P3 once triaged, else null.")
    category = serializers.CharField(allow_null=True, help_text="Once triaged, else null.")
    answer = serializers.CharField(help_text="Our answer (empty until there is one).")
    has_screenshot = serializers.SerializerMethodField()

    class Meta:
        model = FeedbackReport
        fields = ["id", "what_happened", "expected", "steps", "page_url", "app_version", "has_screenshot",
                  "status", "severity", "category", "answer", "created_at", "resolved_at"]
        read_only_fields = fields

    def get_has_screenshot(self, report: FeedbackReport) -> bool:
        return bool(report.screenshot)

    def to_representation(self, report: FeedbackReport) -> dict:
        data = super().to_representation(report)
        data["severity"] = data["severity"] or None
        data["category"] = data["category"] or None
        return data


class TextField(serializers.CharField):
    """Text only: a number or a list where text is expected is refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class FeedbackInputSerializer(serializers.Serializer):
    what_happened = TextField(max_length=TEXT_LIMIT, trim_whitespace=True, error_messages={
        "required": WHAT_HAPPENED_REQUIRED, "blank": WHAT_HAPPENED_REQUIRED})
    expected = TextField(max_length=TEXT_LIMIT, required=False, allow_blank=True, default="")
    steps = TextField(max_length=TEXT_LIMIT, required=False, allow_blank=True, default="")
    screenshot = serializers.FileField(required=False, allow_null=True, default=None,
                                       help_text="PNG, JPEG or WebP, up to FEEDBACK_SCREENSHOT_MAX_BYTES.")
    page_url = TextField(max_length=2000, required=False, allow_blank=True, default="",
                                     help_text="The app's screen or page the report is about.")
    user_agent = TextField(max_length=2000, required=False, allow_blank=True, default="",
                                       help_text="Device and OS; the User-Agent header when absent.")
    app_version = TextField(max_length=200, required=False, allow_blank=True, default="")


class FeedbackListApi(APIView):
    parser_classes = [parsers.MultiPartParser, parsers.FormParser, JSONParser]
    pagination_class = Pagination

    @extend_schema(responses=FeedbackOutputSerializer(many=True), summary="Your feedback reports, newest first")
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(feedback_selectors.feedback_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(FeedbackOutputSerializer(page, many=True).data)

    @extend_schema(request={"multipart/form-data": FeedbackInputSerializer, "application/json": FeedbackInputSerializer},
                   responses={201: FeedbackOutputSerializer, 400: INVALID},
                   summary="Send feedback (the page, device, app version and your recent request ids are kept)")
    def post(self, request):
        data = FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        report = feedback_submit(
            user=request.user, what_happened=values["what_happened"], expected=values["expected"],
            steps=values["steps"], screenshot=values["screenshot"], page_url=values["page_url"],
            user_agent=values["user_agent"] or request.headers.get("User-Agent", ""),
            app_version=values["app_version"], request_ids=recent_request_ids(request.user), door="api")
        return Response(FeedbackOutputSerializer(report).data, status=status.HTTP_201_CREATED)


class FeedbackDetailApi(APIView):
    @extend_schema(responses={200: FeedbackOutputSerializer, 404: OpenApiResponse(description="Not yours or none")},
                   summary="One of your feedback reports, with its status and our answer")
    def get(self, request, pk: int):
        return Response(FeedbackOutputSerializer(feedback_selectors.feedback_get(user=request.user, pk=pk)).data)


api_urlpatterns: list = [
    path("feedback/", FeedbackListApi.as_view(), name="feedback_list"),
    path("feedback/<int:pk>/", FeedbackDetailApi.as_view(), name="feedback_detail"),
]
