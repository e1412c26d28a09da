"""Positions and fills API: the ledger's positions valued at the newest price, and the fills
history as JSON (paginated) or as a CSV file (``?format=csv`` or ``Accept: text/csv``).

Positions are computed from fills (``trading.orders.positions``); ``mismatch`` says the broker's
balance disagreed at the last reconciliation (such a position is not traded on until resolved).
The newest price is the paper broker's (``trading.paper.prices.latest_price``: a quote when the
platform has one, else the latest daily close); unrealised P&L is its value less the cost (fill
prices, without commission, as the brokers' purchase amount); realised P&L is net of commission
and tax.
"""

from __future__ import annotations

import datetime as dt
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
from core.csvfile import BOM, Writer
from marketdata.calendars import SEOUL
from marketdata.models import Instrument
from trading.orders import selectors
from trading.orders.models import Fill, Position

MONEY = Decimal(1)
ZERO = Decimal(0)
CSV_HEADER = ["filled_at", "account", "order", "symbol", "name", "side", "quantity", "price", "value",
              "commission", "tax", "costs_estimated", "source"]


def _number(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


# -- positions -----------------------------------------------------------------------------------
class PositionSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    account_nickname = serializers.CharField(source="account.nickname")
    symbol = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    quantity = serializers.DecimalField(max_digits=20, decimal_places=8)
    average_cost = serializers.DecimalField(max_digits=20, decimal_places=4,
                                            help_text="Cost per unit held, at fill prices (without commission).")
    cost = serializers.DecimalField(max_digits=20, decimal_places=4)
    last_price = serializers.DecimalField(max_digits=20, decimal_places=8, allow_null=True,
                                          help_text="The newest price the platform has; null without one.")
    last_price_at = serializers.DateTimeField(allow_null=True)
    market_value = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True)
    unrealized_pnl = serializers.DecimalField(max_digits=20, decimal_places=0, allow_null=True,
                                              help_text="Market value less cost; null without a price.")
    unrealized_pnl_rate = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True,
                                                   help_text="Percent of the cost.")
    realized_pnl = serializers.DecimalField(max_digits=20, decimal_places=4,
                                            help_text="Net of every commission and tax paid.")
    commission = serializers.DecimalField(max_digits=20, decimal_places=4)
    tax = serializers.DecimalField(max_digits=20, decimal_places=4)
    mismatch = serializers.BooleanField(help_text="The broker's balance differs: not traded on until resolved.")
    mismatch_note = serializers.CharField(allow_blank=True)
    broker_quantity = serializers.DecimalField(max_digits=20, decimal_places=8, allow_null=True)
    broker_average_price = serializers.DecimalField(max_digits=20, decimal_places=8, allow_null=True)
    broker_checked_at = serializers.DateTimeField(allow_null=True)


def position_rows(positions: list[Position], now: dt.datetime) -> list[Position]:
    """``positions`` with their name, newest price and P&L set (one price look-up per symbol)."""
    from trading.paper.prices import latest_price

    symbols = {p.symbol for p in positions}
    names = dict(Instrument.objects.filter(code__in=symbols).values_list("code", "name"))
    prices = {symbol: latest_price(symbol, now=now) for symbol in sorted(symbols)}
    for position in positions:
        point = prices[position.symbol]
        position.name = names.get(position.symbol, "")
        position.last_price = point.price if point else None
        position.last_price_at = point.at if point else None
        position.market_value = position.unrealized_pnl = position.unrealized_pnl_rate = None
        if point is not None:
            value = (point.price * position.quantity).quantize(MONEY, ROUND_HALF_UP)
            position.market_value = value
            position.unrealized_pnl = (value - position.cost).quantize(MONEY, ROUND_HALF_UP)
            if position.cost > 0:
                position.unrealized_pnl_rate = (position.unrealized_pnl / position.cost * 100).quantize(
                    Decimal("0.01"), ROUND_HALF_UP)
    return positions


class PositionListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        account = serializers.IntegerField(required=False, min_value=1, max_value=limits.MAX_ID)
        include_closed = serializers.BooleanField(required=False, default=False,
                                                  help_text="Also positions sold down to zero (their realised P&L).")

    @extend_schema(parameters=[FilterSerializer], responses=PositionSerializer(many=True),
                   summary="Your positions with P&L")
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        positions = list(selectors.position_list(user=request.user, account_id=given.get("account"),
                                                 held_only=not given["include_closed"]))
        return Response(PositionSerializer(position_rows(positions, clock.now()), many=True).data)


# -- fills ---------------------------------------------------------------------------------------
class FillSerializer(serializers.ModelSerializer):
    name = serializers.CharField(allow_blank=True, read_only=True)

    class Meta:
        model = Fill
        fields = ["id", "order", "account", "symbol", "name", "side", "quantity", "price", "value", "commission",
                  "tax", "costs_estimated", "source", "filled_at"]
        read_only_fields = fields


def with_names(fills: list[Fill]) -> list[Fill]:
    names = dict(Instrument.objects.filter(code__in={f.symbol for f in fills}).values_list("code", "name"))
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
        filters = self.FilterSerializer(data=request.query_params)
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
