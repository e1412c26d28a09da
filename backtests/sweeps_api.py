"""Parameter sweep API: create, list, retrieve (cells and the best cell), cancel, delete, open a cell."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backtests import selectors, sweeps, validation
from backtests.api import BacktestCreateSerializer, BacktestSerializer, request_fields
from backtests.models import BacktestSweep
from core.api import Pagination


@extend_schema_field({"oneOf": [{"type": "string", "example": "5:50:5"},
                            {"type": "array", "items": {"type": "number"}}]})
class ValuesField(serializers.Field):
    """A list of numbers, or a string: "5, 10, 20" or "5:50:5" (start:stop:step, inclusive)."""

    def to_internal_value(self, data):
        if isinstance(data, str | list):
            return data
        raise serializers.ValidationError(str(sweeps.BAD_VALUES))

    def to_representation(self, value):
        return value


class SweepCreateSerializer(BacktestCreateSerializer):
    x_param = serializers.CharField()
    x_values = ValuesField()
    y_param = serializers.CharField(required=False, allow_blank=True, default="")
    y_values = ValuesField(required=False, default=list)
    metric = serializers.ChoiceField(choices=list(sweeps.METRICS), default="sharpe")


class SweepCellSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    x_index = serializers.IntegerField()
    y_index = serializers.IntegerField()
    params = serializers.DictField()
    metrics = serializers.DictField()
    error = serializers.CharField()


class SweepSerializer(serializers.ModelSerializer):
    progress = serializers.IntegerField(read_only=True)

    class Meta:
        model = BacktestSweep
        fields = ["id", "title", "strategy", "strategy_type", "params", "codes", "start", "end", "cash", "commission",
                  "sell_tax", "slippage_bps", "fill", "accounts", "options", "x_param", "x_values", "y_param",
                  "y_values", "metric", "status", "progress", "cells_done", "cells_total", "error", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields


class SweepDetailSerializer(SweepSerializer):
    cells = SweepCellSerializer(many=True, read_only=True)
    best_cell = serializers.SerializerMethodField()

    class Meta(SweepSerializer.Meta):
        fields = [*SweepSerializer.Meta.fields, "cells", "best_cell"]
        read_only_fields = fields

    def get_best_cell(self, sweep) -> int | None:
        best = sweeps.sweep_best(sweep)
        return None if best is None else best.pk


class SweepListApi(APIView):
    pagination_class = Pagination  # what the schema reads to declare the page envelope

    @extend_schema(responses=SweepSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.sweep_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(SweepSerializer(page, many=True).data)

    @extend_schema(request=SweepCreateSerializer, responses={201: SweepSerializer})
    def post(self, request):
        """Queue a sweep: one backtest per combination of the axes' values, run in chunks by the workers;
        ``sweep.progress`` and ``sweep.finished`` arrive on the user's websocket."""
        fields, key = request_fields(request, SweepCreateSerializer)
        grid = {name: fields.pop(name) for name in ("x_param", "x_values", "y_param", "y_values", "metric")}
        checked = validation.backtest_request_check(user=request.user, fields=fields)
        sweep = sweeps.sweep_start(user=request.user, spec=checked.spec, title=checked.title,
                                   strategy=checked.strategy, submission_key=key, **grid)
        return Response(SweepSerializer(sweep).data, status=status.HTTP_201_CREATED)


class SweepDetailApi(APIView):
    @extend_schema(responses=SweepDetailSerializer)
    def get(self, request, pk: int):
        sweep = selectors.sweep_get(user=request.user, pk=pk)
        return Response(SweepDetailSerializer(sweep).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        sweeps.sweep_delete(user=request.user, sweep=selectors.sweep_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SweepCancelApi(APIView):
    @extend_schema(request=None, responses=SweepSerializer)
    def post(self, request, pk: int):
        sweep = sweeps.sweep_cancel(user=request.user, sweep=selectors.sweep_get(user=request.user, pk=pk))
        return Response(SweepSerializer(sweep).data)


class SweepCellRunApi(APIView):
    @extend_schema(request=None, responses={201: BacktestSerializer})
    def post(self, request, pk: int, cell_id: int):
        """Open one cell of the grid as a full backtest run (charts, trades, downloads)."""
        sweep = selectors.sweep_get(user=request.user, pk=pk)
        cell = selectors.sweep_cell_get(sweep=sweep, pk=cell_id)
        run = sweeps.sweep_cell_run(user=request.user, sweep=sweep, cell=cell)
        return Response(BacktestSerializer(run).data, status=status.HTTP_201_CREATED)
