"""Admin of strategies and watchlists: operators search, filter and fix them through the same services.

Saving in the admin runs the services' validation (parameters against the registry, universe, name
per owner) and then the services themselves, so a row edited here obeys the rules a user's does.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from strategies import schema, services
from strategies.models import Strategy, Watchlist

PARAM_PREFIX = "params."


class StrategyTypeFilter(admin.SimpleListFilter):
    """Types come from the registry (the column has no fixed choices)."""

    title = _("strategy type")
    parameter_name = "strategy_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return schema.type_choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(strategy_type=self.value()) if self.value() else queryset


class ServiceValidatedForm(forms.ModelForm):
    """A model form judged by a dry run of the service that will save it.

    It replaces the model form's own model validation, which would repeat the service's checks as
    unnamed constraint errors. A ``params.<name>`` error lands on ``params``, naming the parameter.
    """

    def service_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def dry_run(self, **fields: Any) -> None:
        raise NotImplementedError

    def _post_clean(self) -> None:
        if not self.instance.pk and not self.cleaned_data.get("owner"):
            return  # "owner" already has its error
        try:
            self.dry_run(**self.service_fields())
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                if field.startswith(PARAM_PREFIX):
                    field, messages = "params", [f"{field.removeprefix(PARAM_PREFIX)}: {m}" for m in messages]
                target = field if field in self.fields else None
                if target is None or target not in self.errors:
                    self.add_error(target, messages)


class StrategyAdminForm(ServiceValidatedForm):
    strategy_type = forms.ChoiceField(label=_("strategy type"), choices=schema.type_choices)

    class Meta:
        model = Strategy
        fields = [
            "owner", "name", "description", "strategy_type", "params", "instruments", "watchlist", "sizing",
            "sizing_value", "max_positions", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct",
            "max_holding_days",
        ]  # fmt: skip

    SERVICE_FIELDS = ("name", "description", "strategy_type", "params", "watchlist", "sizing", "sizing_value",
                      "max_positions", "stop_loss_pct", "take_profit_pct", "trailing_stop_pct", "max_holding_days")

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = {name: data.get(name) for name in self.SERVICE_FIELDS}
        fields["instruments"] = [instrument.code for instrument in data.get("instruments") or []]
        fields["params"] = data.get("params") if data.get("params") is not None else {}
        fields["description"] = data.get("description") or ""
        return fields

    def dry_run(self, **fields: Any) -> None:
        if self.instance.pk:
            services.strategy_validate(user=self.instance.owner, strategy=self.instance, replace_params=True, **fields)
        else:
            services.strategy_validate(user=self.cleaned_data["owner"], **fields)


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    form = StrategyAdminForm
    list_display = ["name", "owner", "type_label", "sizing", "updated_at"]
    list_filter = [StrategyTypeFilter, ("owner", admin.RelatedOnlyFieldListFilter), "sizing"]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner", "instruments", "watchlist"]
    readonly_fields = ["params_table", "preset_key", "created_at", "updated_at"]
    ordering = ["-updated_at"]
    fieldsets = [
        (None, {"fields": ["owner", "name", "description", "strategy_type", "preset_key"]}),
        (_("Parameters"), {"fields": ["params_table", "params"]}),
        (_("Universe"), {"fields": ["instruments", "watchlist"]}),
        (_("Risk"), {"fields": ["sizing", "sizing_value", "max_positions", "stop_loss_pct", "take_profit_pct",
                                "trailing_stop_pct", "max_holding_days"]}),  # fmt: skip
        (_("Dates"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Strategy | None = None) -> list[str]:
        # A strategy stays with its owner: moving it would cross the ownership line of its watchlist.
        return [*self.readonly_fields, "owner"] if obj else list(self.readonly_fields)

    @admin.display(description=_("strategy type"), ordering="strategy_type")
    def type_label(self, strategy: Strategy) -> str:
        return strategy.strategy_type_label

    @admin.display(description=_("parameters (readable)"))
    def params_table(self, strategy: Strategy) -> str:
        if not strategy.pk or not strategy.params:
            return "—"
        label = schema.param_label
        rows = [(label(strategy.strategy_type, name), name, value) for name, value in strategy.params.items()]
        return format_html_join("", "<div>{} <code>{}</code> = <strong>{}</strong></div>", rows)

    def save_model(self, request: HttpRequest, obj: Strategy, form: StrategyAdminForm, change: bool) -> None:
        fields = form.service_fields()
        if change:
            saved = services.strategy_update(strategy=obj, replace_params=True, **fields)
        else:
            saved = services.strategy_create(user=form.cleaned_data["owner"], **fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        """The services set the instruments; the form's own many-to-many save would undo their clean-up."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


class WatchlistAdminForm(ServiceValidatedForm):
    class Meta:
        model = Watchlist
        fields = ["owner", "name", "instruments"]

    def service_fields(self) -> dict[str, Any]:
        return {"name": self.cleaned_data.get("name") or "",
                "instruments": [i.code for i in self.cleaned_data.get("instruments") or []]}  # fmt: skip

    def dry_run(self, **fields: Any) -> None:
        if self.instance.pk:
            services.watchlist_validate(user=self.instance.owner, watchlist=self.instance, **fields)
        else:
            services.watchlist_validate(user=self.cleaned_data["owner"], **fields)


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    form = WatchlistAdminForm
    list_display = ["name", "owner", "instrument_count", "updated_at"]
    list_filter = [("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "owner__email"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner", "instruments"]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Watchlist]:
        return super().get_queryset(request).annotate(instrument_total=Count("instruments"))

    def get_readonly_fields(self, request: HttpRequest, obj: Watchlist | None = None) -> list[str]:
        return [*self.readonly_fields, "owner"] if obj else list(self.readonly_fields)

    @admin.display(description=_("instruments"), ordering="instrument_total")
    def instrument_count(self, watchlist: Watchlist) -> int:
        return watchlist.instrument_total

    def save_model(self, request: HttpRequest, obj: Watchlist, form: WatchlistAdminForm, change: bool) -> None:
        fields = form.service_fields()
        if change:
            saved = services.watchlist_update(watchlist=obj, **fields)
        else:
            saved = services.watchlist_create(user=form.cleaned_data["owner"], **fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: Watchlist) -> None:
        services.watchlist_delete(watchlist=obj)
