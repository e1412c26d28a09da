"""Coupons API: redeem a code and list one's own redemptions (thin doors onto ``coupon_redeem`` and the
selector). A refusal answers 400 with its code and the message on the ``code`` field."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import Pagination
from core.audit import Actor
from coupons import codes, coupon_selectors
from coupons.models import Redemption
from coupons.redeem import coupon_redeem

INVALID = OpenApiResponse(description="Refused: unknown_code, inactive, not_yet_valid, expired, exhausted, "
                                      "already_used, new_users_only, wrong_plan, trial_not_on_free, "
                                      "not_an_upgrade (message on the code field)")

TOO_MANY = OpenApiResponse(description="too_many_attempts: 20 codes matching no coupon within an hour")


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class RedemptionSerializer(serializers.ModelSerializer):
    code = serializers.SerializerMethodField(help_text="The coupon's code, grouped for reading (ABCD-EFGH).")
    kind = serializers.CharField(source="coupon.kind", help_text="trial_days or upgrade")
    plan = PlanSerializer(source="subscription.plan", help_text="The plan it gave.")
    days = serializers.IntegerField(source="coupon.days")
    starts_at = serializers.DateTimeField(source="subscription.starts_at")
    ends_at = serializers.DateTimeField(source="subscription.ends_at", allow_null=True)
    status = serializers.CharField(source="subscription.status",
                                   help_text="The subscription it gave: scheduled, active, ended or cancelled.")

    class Meta:
        model = Redemption
        fields = ["id", "code", "kind", "plan", "days", "starts_at", "ends_at", "status", "redeemed_at"]
        read_only_fields = fields

    def get_code(self, redemption: Redemption) -> str:
        return codes.display(redemption.coupon.code)


class CouponRedemptionListApi(APIView):
    pagination_class = Pagination  # what the schema reads to declare the page envelope

    @extend_schema(responses=RedemptionSerializer(many=True), summary="Your redeemed coupons, newest first")
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(coupon_selectors.redemption_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(RedemptionSerializer(page, many=True).data)


class CouponRedeemApi(APIView):
    class RedeemInputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=64, help_text="Case, spaces and dashes are ignored.")

    @extend_schema(request=RedeemInputSerializer, responses={201: RedemptionSerializer, 400: INVALID,
                                                             429: TOO_MANY},
                   summary="Redeem a coupon code: its plan for its days, at once")
    def post(self, request):
        data = self.RedeemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        redemption = coupon_redeem(actor=Actor.from_request(request, door="api"), user=request.user,
                                   code=data.validated_data["code"])
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)
