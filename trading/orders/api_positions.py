"""Positions and fills API: the ledger's positions valued as the 잔고 page values them
(``trading.orders.portfolio``: the newest price, unrealised, realised and today's P&L), resolving a
mismatch (``trading.orders.adjust``), and the fills history as JSON (paginated) or as a CSV file
(``?format=csv`` or ``Accept: text/csv``).

``mismatch`` says the broker's balance disagreed at the last reconciliation: such a position is not
traded on until it clears or its owner accepts the broker's figures. Another user's position is 404.
"""

from __future__ import annotations

import io
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core import clock, limits
from core.api import Pagination
from core.audit import Actor
from core.csvfile import BOM, Writer
from core.errors import NotFound
from marketdata.calendars import SEOUL
from marketdata.selectors import instrument_names
from trading import selectors as account_selectors
from trading.orders import adjust, portfolio, selectors
from trading.orders.api import query_data
from trading.orders.models import Fill

CSV_HEADER = ["filled_at", "account", "order", "symbol", "name", "side", "quantity", "price", "value",
              "commission", "tax", "costs_estimated", "source"]


def _number(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


# -- positions -----------------------------------------------------------------------------------
def _money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=0, rounding=ROUND_HALF_UP, **kwargs)


class PositionSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="position.pk")
    account = serializers.IntegerField(source="position.account_id")
    account_nickname = serializers.CharField(source="position.account.nickname")
    symbol = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    quantity = serializers.DecimalField(source="position.quantity", max_digits=20, decimal_places=8)
    average_cost = serializers.DecimalField(source="position.average_cost", max_digits=20, decimal_places=4,
                                            help_text="Cost per unit held, at fill prices (without commission).")
    cost = serializers.DecimalField(source="position.cost", max_digits=20, decimal_places=4)
    last_price = serializers.DecimalField(source="last", max_digits=20, decimal_places=8, allow_null=True,
                                          help_text="The newest price the platform has; null without one.")
    previous_close = serializers.DecimalField(max_digits=20, decimal_places=8, allow_null=True)
    change_percent = serializers.DecimalField(max_digits=12, decimal_places=2, rounding=ROUND_HALF_UP,
                                              allow_null=True, help_text="The price since the previous close.")
    market_value = _money(allow_null=True)
    unrealized_pnl = _money(source="unrealized", allow_null=True,
                            help_text="Market value less cost; null without a price or when nothing is held.")
    unrealized_pnl_percent = serializers.DecimalField(source="unrealized_percent", max_digits=12, decimal_places=2,
                                                      rounding=ROUND_HALF_UP, allow_null=True,
                                                      help_text="Percent of the cost.")
    today_pnl = _money(allow_null=True, help_text="Since the previous close, today's trades and costs included; "
                                                  "null when a price it needs is unknown.")
    realized_pnl = serializers.DecimalField(source="position.realized_pnl", max_digits=20, decimal_places=4,
                                            help_text="Net of every commission and tax paid.")
    commission = serializers.DecimalField(source="position.commission", max_digits=20, decimal_places=4)
    tax = serializers.DecimalField(source="position.tax", max_digits=20, decimal_places=4)
    mismatch = serializers.BooleanField(source="position.mismatch",
                                        help_text="The broker's balance differs: not traded on until resolved.")
    mismatch_note = serializers.CharField(source="position.mismatch_note", allow_blank=True)
    broker_quantity = serializers.DecimalField(source="position.broker_quantity", max_digits=20, decimal_places=8,
                                               allow_null=True)
    broker_average_price = serializers.DecimalField(source="position.broker_average_price", max_digits=20,
                                                    decimal_places=8, allow_null=True)
    broker_checked_at = serializers.DateTimeField(source="position.broker_checked_at", allow_null=True)


class PositionListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        account = serializers.IntegerField(required=False, min_value=1, max_value=limits.MAX_ID)

    @extend_schema(parameters=[FilterSerializer], responses=PositionSerializer(many=True),
                   summary="Your positions with P&L")
    def get(self, request):
        """Positions held, mismatched, or traded today, as the 잔고 page shows them
        (``trading.orders.portfolio``), account by account."""
        filters = self.FilterSerializer(data=query_data(request, self.FilterSerializer))
        filters.is_valid(raise_exception=True)
        accounts = account_selectors.broker_account_list(user=request.user)
        if "account" in filters.validated_data:
            accounts = accounts.filter(pk=filters.validated_data["account"])
        now = clock.now()
        rows = [row for account_id in accounts.values_list("pk", flat=True)
                for row in portfolio.position_rows(user=request.user, account_id=account_id, now=now).rows]
        return Response(PositionSerializer(rows, many=True).data)


class PositionResolveApi(APIView):
    class PositionResolveSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=500, help_text="Why the broker's figures are right.")

    @extend_schema(request=PositionResolveSerializer,
                   responses={200: PositionSerializer, 404: OpenApiResponse(description="Not found (or not yours)"),
                              400: OpenApiResponse(description="Invalid input, or nothing to resolve "
                                                               "(no_mismatch, unresolved_order)")},
                   summary="Accept the broker's figures for a mismatched position")
    def post(self, request, pk: int):
        """For a difference that never clears (shares moved, a split): the broker's quantity and
        average price become the position's, audited with the reason; trading it is allowed again."""
        position = selectors.position_list(user=request.user, held_only=False).filter(pk=pk).first()
        if position is None:
            raise NotFound(str(adjust.MESSAGE_NOT_FOUND))
        data = self.PositionResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        position = adjust.position_resolve(actor=Actor.from_request(request, door="api"), position=position,
                                           reason=data.validated_data["reason"])
        now = clock.now()
        [row] = [row for row in portfolio.position_rows(user=request.user, account_id=position.account_id,
                                                        now=now).rows if row.position.pk == position.pk] or [
            portfolio.PositionRow(position, "", None, None, portfolio.TodayTrades())]
        return Response(PositionSerializer(row).data)


# -- fills ---------------------------------------------------------------------------------------
class FillSerializer(serializers.ModelSerializer):
    name = serializers.CharField(allow_blank=True, read_only=True)

    class Meta:
        model = Fill
        fields = ["id", "order", "account", "symbol", "name", "side", "quantity", "price", "value", "commission",
                  "tax", "costs_estimated", "source", "filled_at"]
        read_only_fields = fields


def with_names(fills: list[Fill]) -> list[Fill]:
    names = instrument_names(codes=[fill.symbol for fill in fills])
    for fill in fills:
        fill.name = names.get(fill.symbol, "")
    return fills


class FillsCsvRenderer(BaseRenderer):
    """Fills as a CSV file Excel opens in UTF-8 (hence the byte-order mark), times in Seoul."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        writer = Writer(out, lineterminator="\r\n")
        writer.writerow(CSV_HEADER)
        for fill in data:
            writer.writerow([fill.filled_at.astimezone(SEOUL).isoformat(), fill.account_id, fill.order_id,
                             fill.symbol, fill.name, fill.side, _number(fill.quantity), _number(fill.price),
                             _number(fill.value), _number(fill.commission), _number(fill.tax),
                             "yes" if fill.costs_estimated else "no", fill.source])
        return (BOM + out.getvalue()).encode("utf-8")


class FillListApi(APIView):
    renderer_classes = [JSONRenderer, FillsCsvRenderer]
    pagination_class = Pagination  # what the schema reads to declare the page envelope

    class FilterSerializer(serializers.Serializer):
        account = serializers.IntegerField(required=False, min_value=1, max_value=limits.MAX_ID)
        start = serializers.DateField(required=False, validators=[limits.validate_date],
                                      help_text="First day (Seoul, YYYY-MM-DD), inclusive.")
        end = serializers.DateField(required=False, validators=[limits.validate_date],
                                    help_text="Last day (Seoul, YYYY-MM-DD), inclusive.")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            from marketdata.api import END_BEFORE_START

            if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
                raise serializers.ValidationError({"end": [str(END_BEFORE_START)]})
            return attrs

    @extend_schema(
        parameters=[FilterSerializer, OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"],
                                                       description="csv: the whole list as a file (no pages).")],
        responses={(200, "application/json"): FillSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR,
                   400: OpenApiResponse(description="A filter is not valid, or end is before start")},
        summary="Your fills, newest first")
    def get(self, request):
        filters = self.FilterSerializer(data=query_data(request, self.FilterSerializer))
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        fills = selectors.fill_list(user=request.user, account_id=given.get("account"), start=given.get("start"),
                                    end=given.get("end"))
        if request.accepted_renderer.format == "csv":
            start, end = given.get("start"), given.get("end")
            name = f"fills_{start.isoformat() if start else 'first'}_{end.isoformat() if end else 'last'}.csv"
            return Response(with_names(list(fills)), headers={"Content-Disposition": f'attachment; filename="{name}"'})
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(fills, request, view=self)
        return paginator.get_paginated_response(FillSerializer(with_names(list(page)), many=True).data)

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are always the JSON error body, even when a CSV file was asked for.
        if response.status_code >= 400 and getattr(request, "accepted_renderer", None) is not None:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
