"""Backtest API: create, list, retrieve, cancel, re-run, delete, results, trades, signals, downloads.

Thin doors over ``backtests.validation`` (the same checks and messages as the page form),
``backtests.services`` and ``backtests.selectors`` (another user's run answers 404).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backtests import downloads, results, selectors, services, validation
from backtests.models import Accounts, BacktestRun, Fill, RunStatus
from core import edge, limits
from core.api import Pagination
from core.errors import ApplicationError
from strategies.models import Sizing

NOT_FINISHED = gettext_lazy("The backtest has not succeeded: it has no results.")


class BacktestCreateSerializer(serializers.Serializer):
    strategy = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=limits.MAX_ID,
                                        help_text="One of your strategies: its type, parameters, universe and risk "
                                                  "settings are the defaults of the fields below.")
    title = serializers.CharField(required=False, allow_blank=True, max_length=160)
    strategy_type = serializers.CharField(required=False, allow_blank=True)
    params = serializers.DictField(required=False, allow_null=True, help_text="Parameters of the strategy type.")
    codes = serializers.ListField(child=serializers.CharField(max_length=20), required=False, max_length=5000)
    start = serializers.DateField(validators=[limits.validate_date])
    end = serializers.DateField(validators=[limits.validate_date])
    cash = serializers.IntegerField(min_value=1, max_value=limits.MAX_MONEY_KRW, help_text="Capital in KRW.")
    commission = serializers.DecimalField(max_digits=8, decimal_places=6, required=False,
                                          help_text="Per side, as a fraction (0.00015 = 0.015 %).")
    sell_tax = serializers.DecimalField(max_digits=8, decimal_places=6, required=False, allow_null=True,
                                        help_text="Fixed sell tax fraction; null for the statutory rate by market and "
                                                  "settlement date (trade date + 2 KRX trading days).")
    slippage_bps = serializers.DecimalField(max_digits=7, decimal_places=2, required=False)
    fill = serializers.ChoiceField(choices=Fill.choices, required=False)
    accounts = serializers.ChoiceField(choices=Accounts.choices, required=False)
    sizing = serializers.ChoiceField(choices=Sizing.choices, required=False, allow_null=True)
    sizing_value = serializers.DecimalField(max_digits=15, decimal_places=2, required=False, allow_null=True,
                                            max_value=limits.MAX_MONEY_KRW)
    max_positions = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                             max_value=limits.MAX_POSITIONS)
    stop_loss_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    take_profit_pct = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True)
    trailing_stop_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    max_holding_days = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                                max_value=limits.MAX_HOLDING_DAYS)
    submission_key = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                           help_text="Send the same key again (a retry) and get the same run.")


class BacktestSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = BacktestRun
        fields = [
            "id", "title", "strategy", "sweep", "strategy_type", "params", "codes", "start", "end", "cash",
            "commission", "sell_tax", "slippage_bps", "fill", "accounts", "options", "coverage", "engine_version",
            "status", "status_label", "progress", "error", "created_at", "started_at", "finished_at", "duration_s",
            "total_return", "cagr", "max_drawdown", "sharpe", "sortino", "win_rate", "avg_trade_return", "trades",
            "exposure", "final_equity", "benchmark_return",
        ]
        read_only_fields = fields


LIST_PARAMETERS = [
    OpenApiParameter("symbol", OpenApiTypes.STR, description="Runs whose universe holds this code."),
    OpenApiParameter("strategy", OpenApiTypes.INT),
    OpenApiParameter("strategy_type", OpenApiTypes.STR),
    OpenApiParameter("status", OpenApiTypes.STR, enum=[choice for choice, _ in RunStatus.choices]),
    OpenApiParameter("since", OpenApiTypes.DATE, description="Created on or after."),
    OpenApiParameter("until", OpenApiTypes.DATE, description="Created on or before."),
    OpenApiParameter("sort", OpenApiTypes.STR, enum=[value for value, _ in selectors.BacktestFilter.base_filters[
        "sort"].extra["choices"]], description="A metric; prefix - for descending."),
]


def request_fields(request, serializer_class: type[serializers.Serializer]) -> tuple[dict[str, Any], str]:
    """The typed fields of a create request and its idempotency key (body or ``Idempotency-Key``)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    key = fields.pop("submission_key", "") or request.headers.get("Idempotency-Key", "")
    return fields, key[:64]


class BacktestListApi(APIView):
    pagination_class = Pagination  # what the schema reads to declare the page envelope

    @extend_schema(parameters=LIST_PARAMETERS, responses=BacktestSerializer(many=True))
    def get(self, request):
        runs = selectors.backtest_list(user=request.user, filters=request.query_params)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(runs, request, view=self)
        return paginator.get_paginated_response(BacktestSerializer(page, many=True).data)

    @extend_schema(request=BacktestCreateSerializer, responses={201: BacktestSerializer, 200: BacktestSerializer})
    def post(self, request):
        """Queue a backtest. Progress and the outcome arrive on the user's websocket (/ws/user/)
        as ``backtest.progress`` and ``backtest.finished``; or poll the run."""
        fields, key = request_fields(request, BacktestCreateSerializer)
        existing = BacktestRun.objects.filter(owner=request.user, submission_key=key).first() if key else None
        if existing is not None:  # a retry: the run it started, not a second one
            return Response(BacktestSerializer(existing).data, status=status.HTTP_200_OK)
        checked = validation.backtest_request_check(user=request.user, fields=fields)
        run = services.backtest_start(user=request.user, spec=checked.spec, title=checked.title,
                                      strategy=checked.strategy, submission_key=key)
        return Response(BacktestSerializer(run).data, status=status.HTTP_201_CREATED)


class BacktestDetailApi(APIView):
    @extend_schema(responses=BacktestSerializer)
    def get(self, request, pk: int):
        return Response(BacktestSerializer(selectors.backtest_get(user=request.user, pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.backtest_delete(user=request.user, run=selectors.backtest_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BacktestCancelApi(APIView):
    @extend_schema(request=None, responses=BacktestSerializer)
    def post(self, request, pk: int):
        run = services.backtest_cancel(user=request.user, run=selectors.backtest_get(user=request.user, pk=pk))
        return Response(BacktestSerializer(run).data)


class BacktestRerunApi(APIView):
    @extend_schema(request=None, responses={201: BacktestSerializer})
    def post(self, request, pk: int):
        run = selectors.backtest_get(user=request.user, pk=pk)
        again = services.backtest_rerun(user=request.user, run=run,
                                        submission_key=request.headers.get("Idempotency-Key", "")[:64])
        return Response(BacktestSerializer(again).data, status=status.HTTP_201_CREATED)


class NotFinished(ApplicationError):
    status = 409
    code = "not_finished"


NOT_FINISHED_RESPONSE = OpenApiResponse(description="The backtest has not succeeded: it has no results")


def finished_run(request, pk: int) -> BacktestRun:
    """The user's run with results; 404 when not theirs, 409 when it has not succeeded."""
    run = selectors.backtest_get(user=request.user, pk=pk)
    if run.status != RunStatus.SUCCEEDED or not run.result_file:
        raise NotFinished(str(NOT_FINISHED))
    return run


def results_etag(run: BacktestRun) -> str:
    """The ETag of a run's stored results: a keyed hash of the run and its file, so the storage
    name (which would locate the file) never appears in a header, and no one can forge it."""
    digest = salted_hmac("backtests.results.etag", f"{run.pk}:{run.result_file.name}", algorithm="sha256")
    return f'"{digest.hexdigest()[:32]}"'


class BacktestResultsApi(APIView):
    @extend_schema(responses={200: inline_serializer("BacktestResults", {
        "metrics": serializers.DictField(), "per_symbol": serializers.ListField(child=serializers.DictField()),
        "histogram": serializers.DictField(), "series": serializers.DictField(
            help_text="dates, equity, cash, drawdown, benchmark (buy and hold): one value per date"),
    }), 304: OpenApiResponse(description="Not modified: the ETag sent in If-None-Match"), 409: NOT_FINISHED_RESPONSE})
    def get(self, request, pk: int):
        """The stored result never changes: answered from bytes encoded once, with an ETag so a
        client that has it gets 304."""
        run = finished_run(request, pk)
        name = run.result_file.name
        etag = results_etag(run)
        headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
        if request.headers.get("If-None-Match") == etag:
            return HttpResponse(status=304, headers=headers)
        response = HttpResponse(results.load(name).results_json, content_type="application/json", headers=headers)
        return edge.keep(request, response, owner_id=run.owner_id, tag=f"backtest:{run.pk}")


class BacktestTradesApi(APIView):
    pagination_class = Pagination  # what the schema reads to declare the page envelope

    @extend_schema(parameters=[
        OpenApiParameter("sort", OpenApiTypes.STR, description="entry_date, exit_date, net_return, symbol, "
                                                               "exit_reason, holding_days, pnl; - for descending"),
        OpenApiParameter("symbol", OpenApiTypes.STR),
    ], responses={200: inline_serializer("BacktestTrade", {"symbol": serializers.CharField()}, many=True),
                  409: NOT_FINISHED_RESPONSE})
    def get(self, request, pk: int):
        trades = results.load(finished_run(request, pk).result_file.name).trades
        if symbol := request.query_params.get("symbol", "").upper():
            trades = [t for t in trades if t["symbol"] == symbol]
        trades = results.sorted_trades(trades, request.query_params.get("sort", ""))
        paginator = self.pagination_class()
        return paginator.get_paginated_response(paginator.paginate_queryset(trades, request, view=self))


class BacktestSignalsApi(APIView):
    pagination_class = Pagination  # what the schema reads to declare the page envelope

    @extend_schema(parameters=[OpenApiParameter("symbol", OpenApiTypes.STR)],
                   responses={200: inline_serializer("BacktestSignal", {"date": serializers.DateField()}, many=True),
                              409: NOT_FINISHED_RESPONSE})
    def get(self, request, pk: int):
        signals = results.load(finished_run(request, pk).result_file.name).signals
        if symbol := request.query_params.get("symbol", "").upper():
            signals = [s for s in signals if s["symbol"] == symbol]
        paginator = self.pagination_class()
        return paginator.get_paginated_response(paginator.paginate_queryset(signals, request, view=self))


DOWNLOADS = {
    "result.json": ("result", downloads.result_json, "application/json; charset=utf-8"),
    "trades.csv": ("trades", downloads.trades_csv, "text/csv; charset=utf-8"),
    "signals.csv": ("signals", downloads.signals_csv, "text/csv; charset=utf-8"),
}


def download_response(run: BacktestRun, name: str) -> HttpResponse:
    """The file ``name`` of :data:`DOWNLOADS`; Http404 for any other name (pages and API alike)."""
    if name not in DOWNLOADS:
        raise Http404(name)
    kind, build, content_type = DOWNLOADS[name]
    response = HttpResponse(build(run), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{downloads.filename(run, kind)}"'
    return response


class BacktestDownloadApi(APIView):
    @extend_schema(responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR,
                              409: NOT_FINISHED_RESPONSE},
                   parameters=[OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH,
                                                enum=list(DOWNLOADS))])
    def get(self, request, pk: int, name: str):
        return download_response(finished_run(request, pk), name)
