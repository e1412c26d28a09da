"""Market-data API: instrument search and detail, and daily bars as JSON or CSV.

Open to every authenticated user (market data has no owner). Unknown codes answer 404 with
``UNKNOWN_INSTRUMENT`` in the error body; bad date ranges answer 400 naming the field.
"""

from __future__ import annotations

import io

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core import limits
from core.api import Pagination
from core.csvfile import BOM, Writer
from marketdata import selectors
from marketdata.models import Instrument
from marketdata.store import BarSet

END_BEFORE_START = _("The end date is before the start date.")
CSV_HEADER = ["date", "open", "high", "low", "close", "volume", "value"]


class InstrumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instrument
        fields = ["code", "name", "name_en", "market", "sector", "status", "currency"]


class DataSpanSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    rows = serializers.IntegerField()


@extend_schema(
    parameters=[OpenApiParameter("q", OpenApiTypes.STR, description="Code or name, or part of one; empty lists all.")]
)
class InstrumentListApi(generics.ListAPIView):
    """Search instruments by code, Korean or English name: exact code, then prefixes, then the rest.

    ``data`` says which days the bar store has for each instrument (null: no bars at all).
    """

    class OutputSerializer(InstrumentSerializer):
        data = DataSpanSerializer(source="data_span", allow_null=True, read_only=True,
                                  help_text="First and last day with daily bars, and how many; null without bars.")

        class Meta(InstrumentSerializer.Meta):
            fields = [*InstrumentSerializer.Meta.fields, "data"]
            ref_name = "InstrumentListItem"

    serializer_class = OutputSerializer
    pagination_class = Pagination
    queryset = Instrument.objects.none()  # for the schema; requests use the selector

    def get_queryset(self):
        return selectors.instrument_search(query=self.request.query_params.get("q", ""), limit=None)

    def paginate_queryset(self, queryset):
        # One page of instruments, each with its span from the store's snapshot index (no file reads).
        page = super().paginate_queryset(queryset)
        return None if page is None else selectors.with_data_spans(page)


class InstrumentCoverageSerializer(serializers.Serializer):
    first = serializers.DateField(allow_null=True)
    last = serializers.DateField(allow_null=True)
    rows = serializers.IntegerField()
    gaps = serializers.IntegerField(allow_null=True)


class InstrumentStatsSerializer(serializers.Serializer):
    last_close = serializers.FloatField(allow_null=True)
    high_52w = serializers.FloatField(allow_null=True)
    low_52w = serializers.FloatField(allow_null=True)
    return_1y = serializers.FloatField(allow_null=True, help_text="Fraction: 0.12 is +12 %.")


class InstrumentDetailApi(APIView):
    """One instrument with the coverage of its bars and a few statistics."""

    class OutputSerializer(InstrumentSerializer):
        coverage = InstrumentCoverageSerializer(source="stats", read_only=True)
        stats = InstrumentStatsSerializer(read_only=True)

        class Meta(InstrumentSerializer.Meta):
            fields = [*InstrumentSerializer.Meta.fields, "listed_on", "delisted_on", "tick_regime", "coverage", "stats"]
            ref_name = "InstrumentDetail"

    @extend_schema(responses={200: OutputSerializer, 404: OpenApiResponse(description="Unknown instrument code")})
    def get(self, request, code: str):
        instrument = selectors.instrument_get(code=code)
        instrument.stats = selectors.instrument_stats(code=instrument.code)
        return Response(self.OutputSerializer(instrument).data)


class BarsCsvRenderer(BaseRenderer):
    """Bars as a CSV file Excel opens in UTF-8 (hence the byte-order mark)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        writer = Writer(out, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for bar in data.get("bars", []):
            writer.writerow([_csv_cell(bar[column if column != "date" else "time"]) for column in CSV_HEADER])
        return (BOM + out.getvalue()).encode("utf-8")


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class DailyBarSerializer(serializers.Serializer):
    # For the schema: bars are built as plain dicts (thousands of rows, no per-field overhead).
    time = serializers.DateField()
    open = serializers.FloatField()
    high = serializers.FloatField()
    low = serializers.FloatField()
    close = serializers.FloatField()
    volume = serializers.FloatField()
    value = serializers.FloatField(allow_null=True, help_text="Traded value in KRW; null when unknown.")


class InstrumentBarsApi(APIView):
    """Daily bars of one instrument, oldest first; ``format=csv`` downloads them as a file."""

    renderer_classes = [JSONRenderer, BarsCsvRenderer]

    class FilterSerializer(serializers.Serializer):
        start = serializers.DateField(required=False, validators=[limits.validate_date],
                                      help_text="First day (YYYY-MM-DD), inclusive.")
        end = serializers.DateField(required=False, validators=[limits.validate_date],
                                    help_text="Last day (YYYY-MM-DD), inclusive.")

        def validate(self, attrs):
            if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
                raise serializers.ValidationError({"end": [END_BEFORE_START]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        bars = DailyBarSerializer(many=True)

        class Meta:
            ref_name = "InstrumentBars"

    @extend_schema(
        parameters=[FilterSerializer],
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            400: OpenApiResponse(description="start or end is not a date, or end is before start"),
            404: OpenApiResponse(description="Unknown instrument code"),
        },
    )
    def get(self, request, code: str):
        instrument = selectors.instrument_get(code=code)
        dates = self.FilterSerializer(data=request.query_params)
        dates.is_valid(raise_exception=True)
        bars = selectors.instrument_bars(code=instrument.code, **dates.validated_data)
        response = Response({"code": instrument.code, "bars": bars_as_rows(bars, instrument.code)})
        if request.accepted_renderer.format == "csv":
            filename = _filename(instrument.code, dates.validated_data)
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are always the JSON error body, even when a CSV file was asked for.
        if response.status_code >= 400 and getattr(request, "accepted_renderer", None) is not None:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def _filename(code: str, period: dict) -> str:
    start, end = period.get("start"), period.get("end")
    span = f"_{start.isoformat() if start else 'first'}_{end.isoformat() if end else 'last'}" if start or end else ""
    return f"{code}{span}.csv"


def bars_as_rows(bars: BarSet, code: str) -> list[dict]:
    """Bars as the chart wants them: ``time`` is the ISO day; ``value`` None where unknown."""
    return [{"time": row.pop("date"), **row} for row in bars.to_rows(code)]
