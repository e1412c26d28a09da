"""Broker accounts API: thin doors onto the same selectors and services as the pages.

Another user's account answers 404. The app secret is write-only and never returned; the app key is
shown by its last 4 characters; the account number is masked in lists and whole only in the
account's own detail. A broker's refusal answers 400 with code ``broker_refused`` and a clear message.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.audit import Actor
from trading import selectors, services
from trading.forms import REAL_BROKERS
from trading.messages import explain
from trading.models import BrokerAccount, BrokerEnvironment

NOT_FOUND = OpenApiResponse(description="Not found (or not yours)")
INVALID = OpenApiResponse(description="Invalid input, or the broker refused (code broker_refused)")


class PositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    quantity = serializers.DecimalField(max_digits=24, decimal_places=8, allow_null=True)
    sellable_quantity = serializers.DecimalField(max_digits=24, decimal_places=8, allow_null=True)
    average_price = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    current_price = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    evaluation = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    profit_loss = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    profit_loss_rate = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class BalanceSerializer(serializers.Serializer):
    deposit = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    orderable_cash = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    settlement_d2 = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    total_evaluation = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    profit_loss = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    positions = PositionSerializer(many=True)
    at = serializers.DateTimeField(allow_null=True, help_text="When the balance was read from the broker.")


class AccountOutputSerializer(serializers.ModelSerializer):
    account_no_masked = serializers.CharField(source="masked_account_no")
    app_key_masked = serializers.CharField(source="masked_app_key", help_text="The app key's last 4 characters.")
    balance = serializers.SerializerMethodField()

    class Meta:
        model = BrokerAccount
        fields = ["id", "broker", "environment", "nickname", "account_no_masked", "hts_id", "app_key_masked",
                  "status", "status_code", "status_reason", "last_verified_at", "paper_initial_cash", "balance",
                  "max_order_value", "max_position_share", "created_at"]
        read_only_fields = fields

    @extend_schema(responses=BalanceSerializer(allow_null=True))
    def get_balance(self, account: BrokerAccount) -> dict[str, Any] | None:
        view = selectors.balance_view(account)
        return BalanceSerializer(view).data if view else None


class AccountDetailSerializer(AccountOutputSerializer):
    account_no = serializers.CharField(source="formatted_account_no", help_text="Whole, for the owner only.")

    class Meta(AccountOutputSerializer.Meta):
        fields = [*AccountOutputSerializer.Meta.fields, "account_no"]
        read_only_fields = fields


class BrokerAccountListApi(APIView):
    class BrokerAccountConnectSerializer(serializers.Serializer):
        broker = serializers.ChoiceField(choices=REAL_BROKERS)
        environment = serializers.ChoiceField(choices=BrokerEnvironment.choices)
        account_no = serializers.CharField(max_length=20, help_text="KIS 12345678-01 (CANO + ACNT_PRDT_CD); Kiwoom 10 digits.")
        hts_id = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        nickname = serializers.CharField(max_length=60)
        app_key = serializers.CharField(max_length=400, write_only=True)
        app_secret = serializers.CharField(max_length=800, write_only=True, style={"input_type": "password"})

    @extend_schema(responses=AccountOutputSerializer(many=True), summary="Your broker accounts")
    def get(self, request):
        accounts = selectors.broker_account_list(user=request.user)
        return Response(AccountOutputSerializer(accounts, many=True).data)

    @extend_schema(request=BrokerAccountConnectSerializer, responses={201: AccountDetailSerializer, 400: INVALID},
                   summary="Connect a KIS or Kiwoom account (verified with the broker before it is saved)")
    def post(self, request):
        data = self.BrokerAccountConnectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.broker_account_connect(actor=Actor.from_request(request, door="api"), owner=request.user,
                                                  **data.validated_data)
        return Response(AccountDetailSerializer(account).data, status=status.HTTP_201_CREATED)


class PaperAccountCreateApi(APIView):
    class PaperAccountInputSerializer(serializers.Serializer):
        nickname = serializers.CharField(max_length=60)
        cash = serializers.IntegerField(required=False, min_value=0, max_value=10**13,
                                        help_text="Virtual KRW, 1,000,000 to 10,000,000,000 (default 10,000,000).")

    @extend_schema(request=PaperAccountInputSerializer, responses={201: AccountDetailSerializer, 400: INVALID},
                   summary="Open a paper account with virtual cash")
    def post(self, request):
        data = self.PaperAccountInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.broker_account_open_paper(actor=Actor.from_request(request, door="api"),
                                                     owner=request.user, **data.validated_data)
        return Response(AccountDetailSerializer(account).data, status=status.HTTP_201_CREATED)


class BrokerAccountDetailApi(APIView):
    class BrokerAccountRenameSerializer(serializers.Serializer):
        nickname = serializers.CharField(max_length=60)

    @extend_schema(responses={200: AccountDetailSerializer, 404: NOT_FOUND})
    def get(self, request, pk: int):
        return Response(AccountDetailSerializer(selectors.broker_account_get(user=request.user, pk=pk)).data)

    @extend_schema(request=BrokerAccountRenameSerializer, responses={200: AccountDetailSerializer, 400: INVALID, 404: NOT_FOUND},
                   summary="Rename")
    def patch(self, request, pk: int):
        account = selectors.broker_account_get(user=request.user, pk=pk)
        data = self.BrokerAccountRenameSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.broker_account_rename(actor=Actor.from_request(request, door="api"), account=account,
                                                 **data.validated_data)
        return Response(AccountDetailSerializer(account).data)

    @extend_schema(responses={204: None, 404: NOT_FOUND}, summary="Delete (revokes its token at the broker)")
    def delete(self, request, pk: int):
        account = selectors.broker_account_get(user=request.user, pk=pk)
        services.broker_account_delete(actor=Actor.from_request(request, door="api"), account=account)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VerifyOutputSerializer(serializers.Serializer):
    verified = serializers.BooleanField()
    message = serializers.CharField(allow_blank=True)
    account = AccountDetailSerializer()


class BrokerAccountVerifyApi(APIView):
    @extend_schema(request=None, responses={200: VerifyOutputSerializer, 404: NOT_FOUND},
                   summary="Verify again with the broker (token + balance); the balance is refreshed")
    def post(self, request, pk: int):
        account = selectors.broker_account_get(user=request.user, pk=pk)
        outcome = services.broker_account_verify(actor=Actor.from_request(request, door="api"), account=account)
        account.refresh_from_db()
        return Response({"verified": outcome.ok, "message": "" if outcome.ok else explain(outcome.error),
                         "account": AccountDetailSerializer(account).data})


class BrokerAccountRotateApi(APIView):
    class RotateKeysInputSerializer(serializers.Serializer):
        app_key = serializers.CharField(max_length=400, write_only=True)
        app_secret = serializers.CharField(max_length=800, write_only=True, style={"input_type": "password"})

    @extend_schema(request=RotateKeysInputSerializer, responses={200: AccountDetailSerializer, 400: INVALID, 404: NOT_FOUND},
                   summary="Replace the app key and secret (verified first)")
    def post(self, request, pk: int):
        account = selectors.broker_account_get(user=request.user, pk=pk)
        data = self.RotateKeysInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = services.broker_account_rotate_keys(actor=Actor.from_request(request, door="api"), account=account,
                                                      **data.validated_data)
        return Response(AccountDetailSerializer(account).data)


class BrokerAccountLimitsApi(APIView):
    class LimitsInputSerializer(serializers.Serializer):
        max_order_value = serializers.DecimalField(
            max_digits=18, decimal_places=0, allow_null=True, required=False,
            help_text="Largest value of one order in KRW, at most the platform's 100,000,000; null for the "
                      "platform's limit. Omitted: unchanged.")
        max_position_share = serializers.DecimalField(
            max_digits=5, decimal_places=2, allow_null=True, required=False,
            help_text="Largest share of the account one symbol may reach after a buy, in percent (0, 100]; null "
                      "for no cap. Omitted: unchanged.")

    @extend_schema(request=LimitsInputSerializer, responses={200: AccountDetailSerializer, 400: INVALID,
                                                             404: NOT_FOUND},
                   summary="Set the account's own order limits (checked on every order placed afterwards)")
    def post(self, request, pk: int):
        account = selectors.broker_account_get(user=request.user, pk=pk)
        data = self.LimitsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        limits = {"max_order_value": account.max_order_value, "max_position_share": account.max_position_share,
                  **data.validated_data}
        account = services.broker_account_limits_set(actor=Actor.from_request(request, door="api"), account=account,
                                                     **limits)
        return Response(AccountDetailSerializer(account).data)
