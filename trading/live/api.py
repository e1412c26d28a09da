"""Deployments API under ``/api/v1/deployments/``: thin doors onto the same selectors and services as
the pages (``trading.live.selectors``, ``trading.live.services``).

- ``POST /deployments/`` creates a draft; ``POST /deployments/<id>/start/`` starts it. A real-money
  deployment starts (and resumes) only with ``confirm_real: true``; when the user has 2FA on, also
  with ``otp_code``: without it the answer is 403 ``second_factor_web_only`` (confirm in the web app
  or send the code), as the services decide.
- Another user's deployment, strategy or account answers 404; bad input 400 with each field's
  messages; every error has the one body of ``core.api``.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock, limits
from core.api import Pagination
from core.audit import Actor
from core.errors import NotFound
from strategies import selectors as strategy_selectors
from trading import selectors as account_selectors
from trading.live import overview, selectors, services
from trading.live.forms import SYMBOLS_MAX
from trading.live.models import Deployment, DeploymentDay, DeploymentSignal, DeploymentTiming

NOT_FOUND = OpenApiResponse(description="Not found (or not yours)")
INVALID = OpenApiResponse(description="Invalid input, or a rule refused it (the error names the field)")
FORBIDDEN = OpenApiResponse(description="Real money with 2FA on and no otp_code: second_factor_web_only")

MESSAGE_NO_STRATEGY = _("No such strategy.")
MESSAGE_NO_ACCOUNT = _("No such broker account.")


# -- output --------------------------------------------------------------------------------------
class DeploymentSerializer(serializers.ModelSerializer):
    strategy_name = serializers.CharField(source="strategy.name")
    account_name = serializers.CharField(source="account.nickname")
    kind = serializers.SerializerMethodField(help_text="What it trades: paper, mock, real or replay.")
    state_label = serializers.CharField(source="get_state_display")

    class Meta:
        model = Deployment
        fields = ["id", "name", "strategy", "strategy_name", "account", "account_name", "kind", "real_money",
                  "replay", "capital", "capital_limit", "symbols", "timing", "interval_minutes", "state", "state_label",
                  "state_code", "state_reason", "data_note", "strategy_type", "params", "risk", "started_at",
                  "stopped_at", "last_decision_at", "confirmed_real_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_kind(self, deployment: Deployment) -> str:
        return overview.money_kind(deployment)


class DeploymentDetailSerializer(DeploymentSerializer):
    today_pnl = serializers.SerializerMethodField(help_text="KRW, the positions it owns at the newest prices.")
    open_positions = serializers.SerializerMethodField()
    claims_blocked = serializers.SerializerMethodField(
        help_text="Its symbols another of your deployments owns in this account: {symbol: message}.")

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "today_pnl", "open_positions", "claims_blocked"]
        read_only_fields = fields

    def _holdings(self, deployment: Deployment) -> overview.Holdings:
        if not hasattr(self, "_cached"):
            self._cached = overview.holdings_of(user=deployment.owner, deployments=[deployment],
                                                now=clock.now())[deployment.pk]
        return self._cached

    @extend_schema(responses=serializers.DecimalField(max_digits=20, decimal_places=0))
    def get_today_pnl(self, deployment: Deployment) -> str:
        return f"{self._holdings(deployment).today_pnl:.0f}"

    def get_open_positions(self, deployment: Deployment) -> int:
        return self._holdings(deployment).open_count

    @extend_schema(responses=serializers.DictField(child=serializers.CharField()))
    def get_claims_blocked(self, deployment: Deployment) -> dict[str, str]:
        return services.claims_blocked(deployment) if deployment.state != "stopped" else {}


class SignalSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeploymentSignal
        fields = ["id", "decided_at", "bar_date", "symbol", "side", "reason", "price", "quantity_wanted", "quantity",
                  "verdict", "guard_code", "guard_message", "outcome", "outcome_message", "order", "intent_id"]
        read_only_fields = fields


class DaySerializer(serializers.ModelSerializer):
    class Meta:
        model = DeploymentDay
        fields = ["day", "equity", "cash", "invested", "pnl", "positions", "signals", "orders", "fills", "blocked",
                  "note"]
        read_only_fields = fields


def detail_response(deployment: Deployment, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(DeploymentDetailSerializer(deployment).data, status=status_code)


# -- input ---------------------------------------------------------------------------------------
class SettingsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    capital = serializers.DecimalField(max_digits=18, decimal_places=0, min_value=1, max_value=limits.MAX_MONEY_KRW,
                                       help_text="KRW allotted to it; the account's free equity at most.")
    symbols = serializers.ListField(child=serializers.CharField(max_length=20), max_length=SYMBOLS_MAX,
                                    required=False, help_text="Codes; the strategy's universe when left out.")
    timing = serializers.ChoiceField(choices=DeploymentTiming.choices, default=DeploymentTiming.OPEN)
    interval_minutes = serializers.IntegerField(min_value=1, max_value=390, required=False, allow_null=True)


class ConfirmSerializer(serializers.Serializer):
    confirm_real = serializers.BooleanField(default=False, help_text="Required for a real-money deployment.")
    otp_code = serializers.CharField(max_length=20, required=False, allow_blank=True, default="",
                                     help_text="The 2FA code, for real money when 2FA is on.")


def _actor(request) -> Actor:
    return Actor.from_request(request, door="api")


def _second_factor_request(request, otp_code: str) -> Any:
    """The request the services check the code against: none without a code, so that real money
    with 2FA on answers 403 ``second_factor_web_only`` (the services' rule) rather than a bad code."""
    return request if otp_code else None


class DeploymentListApi(APIView):
    pagination_class = Pagination

    class DeploymentCreateSerializer(SettingsSerializer):
        strategy = serializers.IntegerField(min_value=1, max_value=limits.MAX_ID, help_text="One of your strategies.")
        account = serializers.IntegerField(min_value=1, max_value=limits.MAX_ID,
                                           help_text="One of your broker accounts (paper first is a good idea).")

    @extend_schema(responses=DeploymentSerializer(many=True), summary="Your deployments")
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.deployment_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(DeploymentSerializer(page, many=True).data)

    @extend_schema(request=DeploymentCreateSerializer,
                   responses={201: DeploymentDetailSerializer, 400: INVALID, 404: NOT_FOUND},
                   summary="Create a deployment (a draft: start it with /start/)")
    def post(self, request):
        data = self.DeploymentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        try:
            strategy = strategy_selectors.strategy_get(user=request.user, pk=fields["strategy"])
        except Http404:
            raise NotFound(str(MESSAGE_NO_STRATEGY), field="strategy") from None
        account = account_selectors.broker_account_list(user=request.user).filter(pk=fields["account"]).first()
        if account is None:
            raise NotFound(str(MESSAGE_NO_ACCOUNT), field="account")
        deployment = services.deployment_create(
            actor=_actor(request), strategy=strategy, account=account, name=fields.get("name", ""),
            capital=fields["capital"], timing=fields["timing"], interval_minutes=fields.get("interval_minutes"),
            symbols=fields.get("symbols"))
        return detail_response(deployment, status.HTTP_201_CREATED)


class DeploymentDetailApi(APIView):
    class DeploymentUpdateSerializer(SettingsSerializer):
        name = serializers.CharField(max_length=100, required=False)
        capital = serializers.DecimalField(max_digits=18, decimal_places=0, min_value=1,
                                           max_value=limits.MAX_MONEY_KRW, required=False)
        timing = serializers.ChoiceField(choices=DeploymentTiming.choices, required=False)
        apply_strategy = serializers.BooleanField(default=False,
                                                  help_text="Take the strategy's current parameters and risk rules.")

    @extend_schema(responses={200: DeploymentDetailSerializer, 404: NOT_FOUND}, summary="One deployment")
    def get(self, request, pk: int):
        return detail_response(selectors.deployment_get(user=request.user, pk=pk))

    @extend_schema(request=DeploymentUpdateSerializer,
                   responses={200: DeploymentDetailSerializer, 400: INVALID, 404: NOT_FOUND},
                   summary="Change a deployment (name, capital, symbols, timing; apply the strategy)")
    def patch(self, request, pk: int):
        deployment = selectors.deployment_get(user=request.user, pk=pk)
        data = self.DeploymentUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        apply_strategy = values.pop("apply_strategy", False)
        deployment = services.deployment_update(actor=_actor(request), deployment=deployment,
                                                apply_strategy=apply_strategy, **values)
        return detail_response(deployment)


class DeploymentStartApi(APIView):
    @extend_schema(request=ConfirmSerializer,
                   responses={200: DeploymentDetailSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
                   summary="Start a draft or stopped deployment")
    def post(self, request, pk: int):
        """Plan limits, capital, the real-money confirmation and second factor, then the strategy's
        snapshot and the symbol claims."""
        deployment = selectors.deployment_get(user=request.user, pk=pk)
        data = ConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data["otp_code"]
        deployment = services.deployment_start(actor=_actor(request), deployment=deployment,
                                               confirm_real=data.validated_data["confirm_real"], otp_code=code,
                                               request=_second_factor_request(request, code))
        return detail_response(deployment)


class DeploymentResumeApi(APIView):
    @extend_schema(request=ConfirmSerializer,
                   responses={200: DeploymentDetailSerializer, 400: INVALID, 403: FORBIDDEN, 404: NOT_FOUND},
                   summary="Resume a paused or halted deployment")
    def post(self, request, pk: int):
        deployment = selectors.deployment_get(user=request.user, pk=pk)
        data = ConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data["otp_code"]
        deployment = services.deployment_resume(actor=_actor(request), deployment=deployment,
                                                confirm_real=data.validated_data["confirm_real"], otp_code=code,
                                                request=_second_factor_request(request, code))
        return detail_response(deployment)


class DeploymentPauseApi(APIView):
    class PauseSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(request=PauseSerializer, responses={200: DeploymentDetailSerializer, 400: INVALID, 404: NOT_FOUND},
                   summary="Pause a running deployment")
    def post(self, request, pk: int):
        """No new entries or exits are decided; orders already sent stay."""
        deployment = selectors.deployment_get(user=request.user, pk=pk)
        data = self.PauseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_pause(actor=_actor(request), deployment=deployment,
                                               reason=data.validated_data["reason"])
        return detail_response(deployment)


class DeploymentStopApi(APIView):
    class StopSerializer(serializers.Serializer):
        close_positions = serializers.BooleanField(default=False,
                                                   help_text="Sell what it holds at the next chance.")

    @extend_schema(request=StopSerializer, responses={200: DeploymentDetailSerializer, 400: INVALID, 404: NOT_FOUND},
                   summary="Stop a deployment (it can be started again)")
    def post(self, request, pk: int):
        deployment = selectors.deployment_get(user=request.user, pk=pk)
        data = self.StopSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deployment = services.deployment_stop(actor=_actor(request), deployment=deployment,
                                              close_positions=data.validated_data["close_positions"])
        return detail_response(deployment)


class DeploymentSignalListApi(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: SignalSerializer(many=True), 404: NOT_FOUND},
                   summary="A deployment's signals, newest first, with the guard's verdicts")
    def get(self, request, pk: int):
        deployment = selectors.deployment_get(user=request.user, pk=pk)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.deployment_signals(user=request.user, deployment=deployment),
                                           request, view=self)
        return paginator.get_paginated_response(SignalSerializer(page, many=True).data)


class DeploymentDayListApi(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: DaySerializer(many=True), 404: NOT_FOUND},
                   summary="A deployment's daily summaries, oldest first (its equity curve)")
    def get(self, request, pk: int):
        deployment = selectors.deployment_get(user=request.user, pk=pk)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.deployment_days(user=request.user, deployment=deployment),
                                           request, view=self)
        return paginator.get_paginated_response(DaySerializer(page, many=True).data)
