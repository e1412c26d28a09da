"""Strategies API: the user's strategies and watchlists, the strategy types and the presets.

Thin doors onto the same selectors and services as the pages. Another user's strategy or watchlist
answers 404. Validation errors come in the project's error body, ``fields`` keyed like the services
key them: ``name``, ``strategy_type``, ``params.<name>``, ``instruments``, ``watchlist``, and the risk
fields.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core import limits
from core.api import Pagination
from strategies import presets, schema, selectors, services, signals
from strategies.models import RISK_FIELDS, Sizing, Strategy, Watchlist

NOT_FOUND = OpenApiResponse(description="Not found (or not yours)")
INVALID = OpenApiResponse(description="Invalid input: the error body names each field")
CODES = serializers.ListField(child=serializers.CharField(max_length=20))
TYPES_HELP = "One of the names of /api/v1/strategy-types/."
PARAMS_HELP = (
    "Parameters of the strategy type by name (see /api/v1/strategy-types/); missing ones take their defaults. "
    "Errors are keyed params.<name>."
)


# ---------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------
class StrategyOutputSerializer(serializers.ModelSerializer):
    strategy_type_label = serializers.CharField(read_only=True, help_text="In the request's language.")
    params = serializers.DictField(help_text="Every parameter of the type, typed.")
    instruments = serializers.SerializerMethodField(help_text="Codes chosen one by one (empty with a watchlist).")
    universe = serializers.SerializerMethodField(help_text="Codes the strategy trades: the watchlist's or its own.")

    class Meta:
        model = Strategy
        fields = [
            "id", "name", "description", "strategy_type", "strategy_type_label", "params", "instruments", "watchlist",
            "universe", *RISK_FIELDS, "preset_key", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(CODES)
    def get_instruments(self, strategy: Strategy) -> list[str]:
        return sorted(instrument.code for instrument in strategy.instruments.all())

    @extend_schema_field(CODES)
    def get_universe(self, strategy: Strategy) -> list[str]:
        return strategy.universe_codes()


class OwnWatchlistField(serializers.PrimaryKeyRelatedField):
    """A watchlist id, looked up among the requesting user's watchlists only."""

    def get_queryset(self):
        return selectors.watchlist_list(user=self.context["request"].user)


class UniverseInputSerializer(serializers.Serializer):
    instruments = serializers.ListField(
        child=serializers.CharField(max_length=20), required=False, help_text="Instrument codes, e.g. [\"005930\"]."
    )
    watchlist = OwnWatchlistField(
        queryset=Watchlist.objects.none(), required=False, allow_null=True,
        help_text="One of your watchlists' id, instead of instruments.",
    )


class StrategyInputSerializer(UniverseInputSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    strategy_type = serializers.CharField(max_length=50, help_text=TYPES_HELP)
    params = serializers.DictField(required=False, help_text=PARAMS_HELP)
    sizing = serializers.ChoiceField(choices=Sizing.choices, required=False)
    sizing_value = serializers.DecimalField(
        max_digits=15, decimal_places=2, required=False, allow_null=True, max_value=limits.MAX_MONEY_KRW,
        help_text="KRW per position for fixed_krw; percent of equity (0-100] for pct_equity; null otherwise.",
    )
    max_positions = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                             max_value=limits.MAX_POSITIONS)
    stop_loss_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True,
                                             help_text="Percent, 0 < x < 100; null is off.")
    take_profit_pct = serializers.DecimalField(max_digits=7, decimal_places=2, required=False, allow_null=True,
                                               help_text="Percent above 0; null is off.")
    trailing_stop_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True,
                                                 help_text="Percent, 0 < x < 100; null is off.")
    max_holding_days = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                                max_value=limits.MAX_HOLDING_DAYS)


# What PUT sets when a field is left out: a full replacement.
PUT_DEFAULTS: dict[str, Any] = {
    "description": "", "params": {}, "instruments": [], "watchlist": None, "sizing": Sizing.EQUAL_WEIGHT,
    "sizing_value": None, "max_positions": None, "stop_loss_pct": None, "take_profit_pct": None,
    "trailing_stop_pct": None, "max_holding_days": None,
}  # fmt: skip


def _output(strategy: Strategy, status_code: int = status.HTTP_200_OK) -> Response:
    # Re-read through the selector: the universe comes prefetched and in order.
    fresh = selectors.strategy_get(user=strategy.owner, pk=strategy.pk)
    return Response(StrategyOutputSerializer(fresh).data, status=status_code)


class StrategyListApi(generics.ListAPIView):
    """The user's strategies, most recently changed first; create one."""

    serializer_class = StrategyOutputSerializer
    pagination_class = Pagination
    queryset = Strategy.objects.none()  # for the schema; requests use the selector

    class FilterSerializer(serializers.Serializer):
        # blank is "any", as a form's empty field sends it
        strategy_type = serializers.ChoiceField(choices=list(signals.REGISTRY), required=False, allow_blank=True)
        q = serializers.CharField(required=False, allow_blank=True, help_text="Part of the name.")

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.strategy_list(user=self.request.user, filters=filters.validated_data)

    @extend_schema(parameters=[FilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=StrategyInputSerializer, responses={201: StrategyOutputSerializer, 400: INVALID})
    def post(self, request):
        data = StrategyInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        strategy = services.strategy_create(user=request.user, **data.validated_data)
        return _output(strategy, status.HTTP_201_CREATED)


CHANGED = {200: StrategyOutputSerializer, 400: INVALID, 404: NOT_FOUND}


class StrategyDetailApi(APIView):
    @extend_schema(responses={200: StrategyOutputSerializer, 404: NOT_FOUND})
    def get(self, request, pk: int):
        return Response(StrategyOutputSerializer(selectors.strategy_get(user=request.user, pk=pk)).data)

    @extend_schema(request=StrategyInputSerializer, responses=CHANGED)
    def put(self, request, pk: int):
        """Replace the strategy: fields left out take their defaults (parameters the type's)."""
        strategy = selectors.strategy_get(user=request.user, pk=pk)
        data = StrategyInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        changes = {**PUT_DEFAULTS, **data.validated_data}
        strategy = services.strategy_update(strategy=strategy, replace_params=True, **changes)
        return _output(strategy)

    @extend_schema(request=StrategyInputSerializer, responses=CHANGED)
    def patch(self, request, pk: int):
        """Change some fields. ``params`` are merged into the current ones unless the type changes."""
        strategy = selectors.strategy_get(user=request.user, pk=pk)
        data = StrategyInputSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        strategy = services.strategy_update(strategy=strategy, **data.validated_data)
        return _output(strategy)

    @extend_schema(responses={204: None, 404: NOT_FOUND})
    def delete(self, request, pk: int):
        services.strategy_delete(strategy=selectors.strategy_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrategyCloneApi(APIView):
    """Copy one of your strategies; the copy is named "<name> (copy)" unless a name is given."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)

        class Meta:
            ref_name = "StrategyCloneInput"

    @extend_schema(request=InputSerializer, responses={201: StrategyOutputSerializer, 400: INVALID, 404: NOT_FOUND})
    def post(self, request, pk: int):
        strategy = selectors.strategy_get(user=request.user, pk=pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.strategy_clone(strategy=strategy, name=data.validated_data.get("name"))
        return _output(copy, status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------------
# Strategy types and presets
# ---------------------------------------------------------------------------------------------------
class ParamSchemaSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=["int", "float", "bool"])
    default = serializers.JSONField()
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    step = serializers.FloatField(allow_null=True)
    label = serializers.CharField(help_text="In the request's language.")
    label_ko = serializers.CharField()
    label_en = serializers.CharField()
    help = serializers.CharField(help_text="In the request's language.")
    help_ko = serializers.CharField()
    help_en = serializers.CharField()


class StrategyTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField(help_text="In the request's language.")
    label_ko = serializers.CharField()
    label_en = serializers.CharField()
    params = ParamSchemaSerializer(many=True)


class StrategyTypeListApi(APIView):
    """Every strategy type with its parameter schema (bounds, defaults, labels and help in both languages)."""

    @extend_schema(responses={200: StrategyTypeSerializer(many=True)})
    def get(self, request):
        types = [schema.type_schema(name) for name in signals.REGISTRY]
        return Response(StrategyTypeSerializer(types, many=True).data)


class PresetSerializer(serializers.Serializer):
    key = serializers.CharField()
    strategy_type = serializers.CharField()
    name = serializers.SerializerMethodField(help_text="In the request's language.")
    name_ko = serializers.CharField()
    name_en = serializers.CharField()
    description = serializers.SerializerMethodField(help_text="In the request's language.")
    description_ko = serializers.CharField()
    description_en = serializers.CharField()
    params = serializers.DictField()
    sizing = serializers.ChoiceField(choices=Sizing.choices)
    sizing_value = serializers.DecimalField(max_digits=15, decimal_places=2, allow_null=True)
    max_positions = serializers.IntegerField(allow_null=True)
    stop_loss_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    take_profit_pct = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    trailing_stop_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    max_holding_days = serializers.IntegerField(allow_null=True)

    def get_name(self, preset: presets.Preset) -> str:
        return preset.name(get_language() or "ko")

    def get_description(self, preset: presets.Preset) -> str:
        return preset.description(get_language() or "ko")


class PresetListApi(APIView):
    """Presets: ready-made parameters and risk settings per strategy type, to clone."""

    class FilterSerializer(serializers.Serializer):
        strategy_type = serializers.ChoiceField(choices=list(signals.REGISTRY), required=False, allow_blank=True)

        class Meta:
            ref_name = "PresetFilter"

    @extend_schema(parameters=[FilterSerializer], responses={200: PresetSerializer(many=True)})
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = presets.preset_list(strategy_type=filters.validated_data.get("strategy_type") or None)
        return Response(PresetSerializer(found, many=True).data)


class PresetCloneApi(APIView):
    """Create a strategy from a preset. Without instruments or a watchlist the universe is a few large
    KOSPI stocks (those the instrument master has)."""

    class InputSerializer(UniverseInputSerializer):
        name = serializers.CharField(max_length=100, required=False, help_text="Default: the preset's name.")

        class Meta:
            ref_name = "PresetCloneInput"

    @extend_schema(
        request=InputSerializer,
        responses={201: StrategyOutputSerializer, 400: INVALID, 404: OpenApiResponse(description="Unknown preset")},
    )
    def post(self, request, key: str):
        data = self.InputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        strategy = services.strategy_clone_preset(user=request.user, preset_key=key, **data.validated_data)
        return _output(strategy, status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------------
# Watchlists
# ---------------------------------------------------------------------------------------------------
class WatchlistOutputSerializer(serializers.ModelSerializer):
    instruments = serializers.SerializerMethodField()

    class Meta:
        model = Watchlist
        fields = ["id", "name", "instruments", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(CODES)
    def get_instruments(self, watchlist: Watchlist) -> list[str]:
        return watchlist.codes()


class WatchlistInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    instruments = serializers.ListField(child=serializers.CharField(max_length=20), help_text="Instrument codes.")


def _watchlist_output(watchlist: Watchlist, status_code: int = status.HTTP_200_OK) -> Response:
    fresh = selectors.watchlist_get(user=watchlist.owner, pk=watchlist.pk)
    return Response(WatchlistOutputSerializer(fresh).data, status=status_code)


class WatchlistListApi(generics.ListAPIView):
    """The user's watchlists by name; create one."""

    serializer_class = WatchlistOutputSerializer
    pagination_class = Pagination
    queryset = Watchlist.objects.none()  # for the schema; requests use the selector

    def get_queryset(self):
        return selectors.watchlist_list(user=self.request.user)

    @extend_schema(request=WatchlistInputSerializer, responses={201: WatchlistOutputSerializer, 400: INVALID})
    def post(self, request):
        data = WatchlistInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        watchlist = services.watchlist_create(user=request.user, **data.validated_data)
        return _watchlist_output(watchlist, status.HTTP_201_CREATED)


WATCHLIST_CHANGED = {200: WatchlistOutputSerializer, 400: INVALID, 404: NOT_FOUND}


class WatchlistDetailApi(APIView):
    @extend_schema(responses={200: WatchlistOutputSerializer, 404: NOT_FOUND})
    def get(self, request, pk: int):
        return Response(WatchlistOutputSerializer(selectors.watchlist_get(user=request.user, pk=pk)).data)

    @extend_schema(request=WatchlistInputSerializer, responses=WATCHLIST_CHANGED)
    def put(self, request, pk: int):
        watchlist = selectors.watchlist_get(user=request.user, pk=pk)
        data = WatchlistInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _watchlist_output(services.watchlist_update(watchlist=watchlist, **data.validated_data))

    @extend_schema(request=WatchlistInputSerializer, responses=WATCHLIST_CHANGED)
    def patch(self, request, pk: int):
        watchlist = selectors.watchlist_get(user=request.user, pk=pk)
        data = WatchlistInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return _watchlist_output(services.watchlist_update(watchlist=watchlist, **data.validated_data))

    @extend_schema(
        responses={204: None, 404: NOT_FOUND, 409: OpenApiResponse(description="A strategy trades this watchlist")}
    )
    def delete(self, request, pk: int):
        services.watchlist_delete(watchlist=selectors.watchlist_get(user=request.user, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)

