"""Order ledger API: thin doors onto ``trading.orders.place`` (the one door that checks and writes an
order), the ledger's services and selectors, and ``trading.killswitch``.

- ``POST /orders/`` places an order. An ``Idempotency-Key`` header (1 to 64 visible characters)
  makes a retry safe: the key names the order's intent (``intent_id``, a UUID5 of the user and the
  key), so the same key with the same order answers 200 with the order it made, never a second one;
  the same key with a different order answers 422 ``idempotency_key_reused``. A refusal answers 400
  ``order_refused`` listing every failed check (``errors``: code, field, message); when only the
  duplicate check failed, 409 ``confirmation_required``: send the same order again with
  ``confirm: true``.
- Another user's order or broker account answers 404; every error has the one body of ``core.api``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext, gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock, limits
from core.api import Pagination, error_body
from core.audit import Actor
from core.errors import ApplicationError, NotFound
from core.schema import ErrorDetailSerializer
from trading import risk
from trading import selectors as account_selectors
from trading.brokers.base import OrderType
from trading.models import BrokerAccount
from trading.orders import selectors, services, ticket
from trading.orders.models import Order, OrderSide, OrderState, OrderTypeChoice
from trading.orders.place import MESSAGE_NO_ACCOUNT, OrderRefused, order_place
from trading.orders.revise import order_revise_request

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0c4f8e-3a6f-4c1e-9a57-0d2f61c1e7a4")  # never change: keys would move
QUANTITY = {"max_digits": 20, "decimal_places": 8, "min_value": Decimal("0.00000001")}

MESSAGE_KEY_INVALID = _("Send an Idempotency-Key of 1 to 64 visible characters (a UUID, for instance).")
MESSAGE_KEY_REUSED = _("This Idempotency-Key was already used for a different order: use a new key for a new "
                       "order, or send the same order again to get the one it placed.")
MESSAGE_QUANTITY_OR_AMOUNT = _("Give either a quantity or an amount in KRW, not both.")
MESSAGE_NO_QUANTITY = _("Give a quantity, or an amount in KRW to turn into one.")
MESSAGE_CONFIRM = _("Send the same order again with \"confirm\": true to place it anyway.")

NOT_FOUND = OpenApiResponse(description="Not found (or not yours)")


# -- output --------------------------------------------------------------------------------------
class OrderSerializer(serializers.ModelSerializer):
    state_label = serializers.CharField(source="get_state_display")
    remaining_quantity = serializers.DecimalField(max_digits=20, decimal_places=8,
                                                  help_text="Neither filled nor cancelled.")

    class Meta:
        model = Order
        fields = ["id", "account", "source", "symbol", "side", "quantity", "order_type", "price", "state",
                  "state_label", "intent_id", "broker_order_no", "external", "filled_quantity",
                  "average_fill_price", "cancelled_quantity", "remaining_quantity", "reject_code", "reject_reason",
                  "revise_price", "revise_quantity", "revise_requested_at", "replaces", "created_at", "submitted_at",
                  "acknowledged_at", "cancel_requested_at", "closed_at"]
        read_only_fields = fields


class TimelineFillSerializer(serializers.Serializer):
    quantity = serializers.DecimalField(max_digits=20, decimal_places=8)
    price = serializers.DecimalField(max_digits=20, decimal_places=8)
    value = serializers.DecimalField(max_digits=20, decimal_places=4)
    commission = serializers.DecimalField(max_digits=20, decimal_places=4)
    tax = serializers.DecimalField(max_digits=20, decimal_places=4)
    costs_estimated = serializers.BooleanField()
    cumulative_quantity = serializers.DecimalField(max_digits=20, decimal_places=8)
    source = serializers.CharField()


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["event", "fill"])
    from_state = serializers.CharField(allow_blank=True, help_text="Empty for the order's creation.")
    to_state = serializers.CharField(allow_blank=True, help_text="Equal to from_state for a note; both empty for "
                                                                 "a fill.")
    code = serializers.CharField(allow_blank=True)
    why = serializers.CharField(allow_blank=True)
    actor = serializers.CharField(allow_blank=True)
    fill = TimelineFillSerializer(allow_null=True)


class OrderDetailSerializer(OrderSerializer):
    replacements = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The orders a revision of this one became (each replaces it).")
    timeline = serializers.SerializerMethodField(help_text="Every transition and fill, oldest first.")

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "replacements", "timeline"]
        read_only_fields = fields

    @extend_schema_field(TimelineEntrySerializer(many=True))
    def get_timeline(self, order: Order) -> list[dict[str, Any]]:
        rows = []
        for entry in selectors.order_timeline(order=order):
            event, fill = entry.event, entry.fill
            rows.append({"at": entry.at, "kind": entry.kind, "from_state": event.from_state if event else "",
                         "to_state": event.to_state if event else "", "code": event.code if event else "fill",
                         "why": event.why if event else "", "actor": event.actor_label if event else "",
                         "fill": fill})
        return TimelineEntrySerializer(rows, many=True).data


def order_response(order: Order, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(OrderDetailSerializer(order).data, status=status_code)


class OrderRefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class OrderErrorDetailSerializer(ErrorDetailSerializer):
    errors = OrderRefusalSerializer(many=True, required=False,
                                    help_text="With order_refused and confirmation_required: every check that "
                                              "failed.")
    hint = serializers.CharField(required=False, help_text="With confirmation_required: how to place it anyway.")


class OrderErrorSerializer(serializers.Serializer):
    error = OrderErrorDetailSerializer()


def refusal_response(error: OrderRefused) -> Response:
    """400 ``order_refused`` with every failure, or 409 ``confirmation_required`` when only the
    duplicate check failed; the fields' messages under ``fields`` as everywhere."""
    fields: dict[str, list[str]] = {}
    for failure in error.failures:
        if failure["field"]:
            fields.setdefault(failure["field"], []).append(failure["message"])
    code = "confirmation_required" if error.needs_confirmation else "order_refused"
    body = error_body(status_code=error.status, code=code, message=error.message, fields=fields or None)
    body["error"]["errors"] = error.failures
    if error.needs_confirmation:
        body["error"]["hint"] = str(MESSAGE_CONFIRM)
    return Response(body, status=error.status)


# -- placing an order ----------------------------------------------------------------------------
class OrderCreateSerializer(serializers.Serializer):
    account = serializers.IntegerField(min_value=1, max_value=limits.MAX_ID, help_text="One of your broker accounts.")
    symbol = serializers.CharField(max_length=20, help_text="A KRX code (005930) or a KRW pair (KRW-BTC).")
    side = serializers.ChoiceField(choices=OrderSide.choices)
    quantity = serializers.DecimalField(**QUANTITY, required=False, help_text="Shares (or coins); or give amount.")
    amount = serializers.IntegerField(min_value=1, max_value=limits.MAX_MONEY_KRW, required=False,
                                      help_text="KRW instead of a quantity, as the order ticket counts it: what it "
                                                "buys with commission (a sell: what it is worth) at the limit price "
                                                "(a market order: the newest price), in whole lots.")
    order_type = serializers.ChoiceField(choices=OrderTypeChoice.choices, default=OrderTypeChoice.LIMIT)
    price = serializers.DecimalField(**QUANTITY, required=False, allow_null=True,
                                     help_text="Limit price in KRW, on the tick grid; none for market orders.")
    confirm = serializers.BooleanField(default=False, help_text="Place it even though an identical order was "
                                                                "placed seconds ago (after a 409).")

    def validate_symbol(self, value: str) -> str:
        return value.strip().upper()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if "quantity" in attrs and "amount" in attrs:
            errors["amount"] = [str(MESSAGE_QUANTITY_OR_AMOUNT)]
        elif "quantity" not in attrs and "amount" not in attrs:
            errors["quantity"] = [str(MESSAGE_NO_QUANTITY)]
        if OrderType(attrs["order_type"]).needs_price != (attrs.get("price") is not None):
            errors["price"] = [str(services.MESSAGE_PRICE)]
        if errors:
            raise serializers.ValidationError(errors)
        attrs.setdefault("price", None)
        return attrs


def quantity_for_amount(*, symbol: str, side: str, amount: int, order_type: str, price: Decimal | None) -> Decimal:
    """The quantity ``amount`` KRW comes to, as the order ticket counts it (``trading.orders.ticket``:
    a buy with its commission, at the limit price or for a market order the newest price, in whole
    lots). Raises ``ValidationError`` naming the field when it cannot."""
    info = ticket.symbol_info(symbol, now=clock.now())
    if info.rules is None:
        unknown = risk.Failure("unknown_symbol", "symbol", {"symbol": symbol})
        raise serializers.ValidationError({"symbol": [unknown.message_in(gettext)]})
    quantity, message = ticket.prepare_quantity(info, {"mode": "amount", "amount": Decimal(amount), "side": side,
                                                       "order_type": order_type, "price": price})
    if quantity is None:
        raise serializers.ValidationError({"amount": [message]})
    return quantity


class IdempotencyKeyReused(ApplicationError):
    status = 422
    code = "idempotency_key_reused"


def intent_for(request) -> uuid.UUID | None:
    """The intent an ``Idempotency-Key`` names for this user (None without the header); raises
    ``ValidationError`` on the header for a key that is empty, too long or not visible ASCII."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not (1 <= len(key) <= 64 and all("!" <= character <= "~" for character in key)):
        raise serializers.ValidationError({IDEMPOTENCY_HEADER: [str(MESSAGE_KEY_INVALID)]})
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{request.user.pk}:{key}")


def same_order(order: Order, *, account: BrokerAccount, fields: dict[str, Any]) -> bool:
    """Whether ``order`` is the one these fields ask for (a retry). With an amount, a limit order's
    quantity follows from it; a market order's depends on the price of the moment and is not compared."""
    if (order.account_id, order.symbol, order.side, order.order_type) != (
            account.pk, fields["symbol"], fields["side"], fields["order_type"]):
        return False
    if order.price != fields["price"]:  # both None for market orders
        return False
    quantity = fields.get("quantity")
    if quantity is None and OrderType(order.order_type).needs_price:
        quantity = quantity_for_amount(symbol=order.symbol, side=order.side, amount=fields["amount"],
                                       order_type=order.order_type, price=order.price)
    return quantity is None or order.quantity == quantity


def query_data(request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The query string as plain data for ``serializer_class``: a list for a list field, else the
    last value. Plain data, so that an empty ``date=`` is refused as the schema says rather than
    taken as left out (DRF's reading of a form)."""
    lists = {name for name, field in serializer_class().fields.items() if isinstance(field, serializers.ListField)}
    params = request.query_params
    return {key: params.getlist(key) if key in lists else params.get(key) for key in params}


class OrderListApi(APIView):
    pagination_class = Pagination  # what the schema reads to declare the page envelope

    class FilterSerializer(serializers.Serializer):
        account = serializers.IntegerField(required=False, min_value=1, max_value=limits.MAX_ID)
        state = serializers.ListField(child=serializers.ChoiceField(choices=OrderState.choices), required=False,
                                      max_length=len(OrderState.choices), help_text="One or more (repeat it).")
        symbol = serializers.CharField(required=False, allow_blank=True, max_length=20)
        date = serializers.DateField(required=False, validators=[limits.validate_date],
                                     help_text="Placed on this day (Seoul).")

    @extend_schema(parameters=[FilterSerializer], responses=OrderSerializer(many=True), summary="Your orders")
    def get(self, request):
        filters = self.FilterSerializer(data=query_data(request, self.FilterSerializer))
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        orders = selectors.order_list(user=request.user, account_id=given.get("account"),
                                      states=given.get("state") or None, symbol=given.get("symbol", "").strip().upper(),
                                      day=given.get("date"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        request=OrderCreateSerializer,
        parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER,
                                     description="Optional, 1 to 64 visible characters: the same key with the same "
                                                 "order returns the order it placed (200) instead of a second one.",
                                     pattern=r"^[!-~]{1,64}$")],
        responses={201: OrderDetailSerializer, 200: OrderDetailSerializer,
                   400: OpenApiResponse(OrderErrorSerializer, description="Invalid input, or the order was refused "
                                                                          "(order_refused, every failure in errors)"),
                   404: OpenApiResponse(description="No such broker account (or not yours)"),
                   409: OpenApiResponse(OrderErrorSerializer, description="An identical order was placed seconds "
                                                                          "ago: send it again with confirm: true"),
                   422: OpenApiResponse(description="The Idempotency-Key was used for a different order")},
        summary="Place an order")
    def post(self, request):
        """Check and place an order; it is sent to the broker by a job, and its states arrive on the
        user's websocket (``order.<state>``) or by polling the order."""
        intent_id = intent_for(request)
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        account = account_selectors.broker_account_list(user=request.user).filter(pk=fields["account"]).first()
        if account is None:
            raise NotFound(str(MESSAGE_NO_ACCOUNT), field="account")
        existing = Order.objects.filter(intent_id=intent_id, owner=request.user).first() if intent_id else None
        if existing is not None:
            return self._replay(existing, account, fields)
        quantity = fields.get("quantity") or quantity_for_amount(
            symbol=fields["symbol"], side=fields["side"], amount=fields["amount"], order_type=fields["order_type"],
            price=fields["price"])
        try:
            order = order_place(actor=Actor.from_request(request, door="api"), account=account,
                                symbol=fields["symbol"], side=fields["side"], quantity=quantity,
                                order_type=fields["order_type"], price=fields["price"], confirm=fields["confirm"],
                                intent_id=intent_id)
        except OrderRefused as error:
            return refusal_response(error)
        except ApplicationError as error:
            if error.code == "intent_taken":  # the same key raced in for another account
                raise IdempotencyKeyReused(str(MESSAGE_KEY_REUSED), field=IDEMPOTENCY_HEADER) from None
            raise
        if intent_id is not None and not same_order(order, account=account, fields={**fields, "quantity": quantity}):
            raise IdempotencyKeyReused(str(MESSAGE_KEY_REUSED), field=IDEMPOTENCY_HEADER)  # lost a race to another
        return order_response(order, status.HTTP_201_CREATED)

    def _replay(self, order: Order, account: BrokerAccount, fields: dict[str, Any]) -> Response:
        if not same_order(order, account=account, fields=fields):
            raise IdempotencyKeyReused(str(MESSAGE_KEY_REUSED), field=IDEMPOTENCY_HEADER)
        return order_response(order)


class OrderDetailApi(APIView):
    @extend_schema(responses={200: OrderDetailSerializer, 404: NOT_FOUND}, summary="One order with its timeline")
    def get(self, request, pk: int):
        return order_response(selectors.order_get(user=request.user, pk=pk))


class OrderCancelApi(APIView):
    @extend_schema(request=None, responses={202: OrderDetailSerializer, 404: NOT_FOUND,
                                            400: OpenApiResponse(description="The order is final (order_final)")},
                   summary="Ask for the order's cancellation")
    def post(self, request, pk: int):
        """A ``new`` order is cancelled at once; one at the broker becomes ``cancel_requested`` and its
        cancel job runs; one whose fate is not known yet is cancelled once it is. Asking twice
        changes nothing. The outcome arrives like every state (``order.cancelled``, or a fill)."""
        order = selectors.order_get(user=request.user, pk=pk)
        order = services.order_cancel_request(actor=Actor.from_request(request, door="api"), order=order)
        return order_response(order, status.HTTP_202_ACCEPTED)


class OrderReviseApi(APIView):
    class OrderReviseSerializer(serializers.Serializer):
        price = serializers.DecimalField(**QUANTITY, help_text="The new limit price, on the tick grid.")
        quantity = serializers.DecimalField(**QUANTITY, required=False, allow_null=True,
                                            help_text="How much of what remains moves to the new price; all of it "
                                                      "when left out.")

    @extend_schema(request=OrderReviseSerializer,
                   responses={202: OrderDetailSerializer, 404: NOT_FOUND,
                              400: OpenApiResponse(description="Invalid input, or the order cannot be revised now "
                                                               "(the error names the rule and the field)")},
                   summary="Ask to revise an open limit order (정정)")
    def post(self, request, pk: int):
        """The revision is checked (open, nothing else on its way, quantity within what remains,
        price on the tick and inside the day's limits, no kill switch) and sent by a job; at the
        broker it becomes a new order (``replacements``) for the moved quantity, and this one
        gives that quantity up."""
        order = selectors.order_get(user=request.user, pk=pk)
        data = self.OrderReviseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_revise_request(actor=Actor.from_request(request, door="api"), order=order,
                                     price=data.validated_data["price"],
                                     quantity=data.validated_data.get("quantity"))
        return order_response(order, status.HTTP_202_ACCEPTED)
