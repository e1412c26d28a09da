"""Plans API: the public plans with their limits, and the caller's subscription, usage and history."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from coupons import selectors
from coupons.models import Plan, Subscription

LIMITS = list(selectors.LIMIT_FIELDS)


class PlanOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["code", "name", "rank", "is_default", "description", *LIMITS, "invite_reward_days"]
        read_only_fields = fields


class SubscriptionOutputSerializer(serializers.ModelSerializer):
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "plan", "source", "status", "starts_at", "ends_at", "ended_at"]
        read_only_fields = fields


class PlanListApi(APIView):
    @extend_schema(responses=PlanOutputSerializer(many=True), summary="The plans and their limits")
    def get(self, request):
        return Response(PlanOutputSerializer(selectors.plan_list(), many=True).data)


class UsageOutputSerializer(serializers.Serializer):
    limit = serializers.CharField(source="field", help_text="The Plan field of this limit (max_strategies…).")
    label = serializers.CharField()
    used = serializers.IntegerField(allow_null=True, help_text="Null: not counted here.")
    allowed = serializers.IntegerField(source="limit")


class SubscriptionStateSerializer(serializers.Serializer):
    plan = PlanOutputSerializer(help_text="The plan in force (the default plan without a subscription).")
    subscription = SubscriptionOutputSerializer(allow_null=True, help_text="Null: on the default plan.")
    usage = UsageOutputSerializer(many=True)
    history = SubscriptionOutputSerializer(many=True)


class SubscriptionApi(APIView):
    @extend_schema(responses=SubscriptionStateSerializer, summary="Your plan, usage against each limit, and history")
    def get(self, request):
        subscription = selectors.subscription_current(user=request.user)
        plan = subscription.plan if subscription is not None else selectors.default_plan()
        limits = selectors.plan_limits(user=request.user)
        return Response({
            "plan": PlanOutputSerializer(plan).data if plan is not None else None,
            "subscription": SubscriptionOutputSerializer(subscription).data if subscription else None,
            "usage": UsageOutputSerializer(selectors.usage(user=request.user, limits=limits), many=True).data,
            "history": SubscriptionOutputSerializer(selectors.subscription_history(user=request.user)[:50],
                                                    many=True).data,
        })
