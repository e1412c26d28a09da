"""Pages under /strategies/: the user's strategies, presets and watchlists.

Thin: parse with a form, fetch through a selector (404 for what is not yours), call a service, render.
A service's ValidationError goes back onto the form, under each field; nothing typed is lost.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import ApplicationError
from marketdata.selectors import instrument_search, with_data_spans
from strategies import presets, schema, selectors, services, signals
from strategies.forms import DEFAULT_TYPE, PresetCloneForm, StrategyForm, UniverseSource, WatchlistForm, codes_text
from strategies.models import Sizing

STRATEGY_CREATED = _("Strategy “{name}” was created.")
STRATEGY_SAVED = _("Strategy “{name}” was saved.")
STRATEGY_CLONED = _("“{name}” was created as a copy: change what you like and save.")
STRATEGY_DELETED = _("Strategy “{name}” was deleted.")
PRESET_CLONED = _("“{name}” was created from the preset: review it and save.")
WATCHLIST_CREATED = _("Watchlist “{name}” was created.")
WATCHLIST_SAVED = _("Watchlist “{name}” was saved.")
WATCHLIST_DELETED = _("Watchlist “{name}” was deleted.")
CHANGE_TYPE_ACTION = "change_type"
PAGE_SIZE = 50
PICKER_LIMIT = 10
QUERY_MAX_LENGTH = 50


# ---------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------
@login_required
def index(request: HttpRequest) -> HttpResponse:
    chosen_type = request.GET.get("type", "")
    filters = {
        "strategy_type": chosen_type if chosen_type in signals.REGISTRY else "",
        "q": request.GET.get("q", "")[:100],
    }
    strategies = selectors.strategy_list(user=request.user, filters=filters)
    page = Paginator(strategies, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page_title": _("Strategies"),
        "nav": "strategies",
        "page_obj": page,
        "strategies": page.object_list,
        "filters": filters,
        "filtered": any(filters.values()),
        "type_choices": schema.type_choices(),
    }
    return render(request, "strategies/index.html", context)


def _form_page(request: HttpRequest, form: StrategyForm, *, strategy=None, status: int = 200) -> HttpResponse:
    context = {
        "page_title": strategy.name if strategy else _("New strategy"),
        "nav": "strategies",
        "form": form,
        "strategy": strategy,
        "type_description": _type_description(form.chosen_type),
        "change_type_action": CHANGE_TYPE_ACTION,
        "sizings_with_value": [Sizing.FIXED_KRW, Sizing.PCT_EQUITY],
    }
    return render(request, "strategies/form.html", context, status=status)


def _type_description(strategy_type: str | None) -> str:
    # Not a preset's text: that names the preset's numbers, which the fields may no longer hold.
    return presets.type_description(strategy_type, get_language() or "ko") if strategy_type else ""


def _submitted_form(request: HttpRequest) -> tuple[StrategyForm, bool]:
    """The posted form and whether the user only asked for another type's parameter fields."""
    if request.POST.get("action") == CHANGE_TYPE_ACTION:
        # Without JavaScript the type is switched by a submit: keep every input, reset the parameters.
        initial = StrategyForm.initial_after_type_change(request.POST)
        return StrategyForm(user=request.user, initial=initial), True
    return StrategyForm(request.POST, user=request.user), False


@login_required
def create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        chosen = request.GET.get("type")
        initial = {"strategy_type": chosen if chosen in signals.REGISTRY else DEFAULT_TYPE,
                   "instruments": codes_text(services.default_universe_codes())}  # fmt: skip
        return _form_page(request, StrategyForm(user=request.user, initial=initial))
    form, only_type_changed = _submitted_form(request)
    if not only_type_changed and form.is_valid():
        try:
            strategy = services.strategy_create(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, STRATEGY_CREATED.format(name=strategy.name))
            return redirect("strategies:index")
    return _form_page(request, form, status=400 if form.errors else 200)


@login_required
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_get(user=request.user, pk=pk)
    if request.method != "POST":
        form = StrategyForm(user=request.user, initial=StrategyForm.initial_for(strategy))
        return _form_page(request, form, strategy=strategy)
    form, only_type_changed = _submitted_form(request)
    if not only_type_changed and form.is_valid():
        try:
            strategy = services.strategy_update(strategy=strategy, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, STRATEGY_SAVED.format(name=strategy.name))
            return redirect("strategies:index")
    return _form_page(request, form, strategy=strategy, status=400 if form.errors else 200)


@login_required
@require_GET
def param_fields(request: HttpRequest) -> HttpResponse:
    """The parameter fields of one type, swapped into the form by htmx when the type changes."""
    chosen = request.GET.get("strategy_type")
    if chosen not in signals.REGISTRY:
        raise Http404(chosen)
    form = StrategyForm(user=request.user, initial={"strategy_type": chosen})
    context = {"form": form, "type_description": _type_description(chosen)}
    return render(request, "strategies/_param_fields.html", context)


@login_required
@require_POST
def clone(request: HttpRequest, pk: int) -> HttpResponse:
    strategy = selectors.strategy_get(user=request.user, pk=pk)
    copy = services.strategy_clone(strategy=strategy)
    messages.success(request, STRATEGY_CLONED.format(name=copy.name))
    return redirect("strategies:edit", pk=copy.pk)


@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST deletes."""
    strategy = selectors.strategy_get(user=request.user, pk=pk)
    if request.method == "POST":
        name = strategy.name
        services.strategy_delete(strategy=strategy)
        messages.success(request, STRATEGY_DELETED.format(name=name))
        return redirect("strategies:index")
    context = {"page_title": _("Delete strategy"), "nav": "strategies", "object": strategy,
               "cancel_url": "strategies:edit", "kind": "strategy"}  # fmt: skip
    return render(request, "strategies/confirm_delete.html", context)


@login_required
@require_GET
def instrument_picker(request: HttpRequest) -> HttpResponse:
    """Instruments matching ``q`` (code or name) with an "add" button each; for the universe inputs."""
    query = request.GET.get("q", "").strip()[:QUERY_MAX_LENGTH]
    results = with_data_spans(instrument_search(query=query, limit=PICKER_LIMIT)) if query else []
    context = {"query": query, "results": results, "target": request.GET.get("target", "id_instruments")}
    return render(request, "strategies/_instrument_picker.html", context)


# ---------------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------------
def _preset_view(preset: presets.Preset) -> dict[str, Any]:
    language = get_language() or "ko"
    return {
        "key": preset.key,
        "name": preset.name(language),
        "description": preset.description(language),
        "params": [(schema.param_label(preset.strategy_type, name), value) for name, value in preset.params.items()],
        "risk": preset.risk(),
        "sizing_label": Sizing(preset.sizing).label,
    }


@login_required
def preset_index(request: HttpRequest) -> HttpResponse:
    groups = [
        {"type": name, "label": label, "presets": [_preset_view(p) for p in presets.preset_list(strategy_type=name)]}
        for name, label in schema.type_choices()
    ]
    context = {"page_title": _("Presets"), "nav": "strategies", "groups": groups}
    return render(request, "strategies/presets.html", context)


@login_required
def preset_clone(request: HttpRequest, key: str) -> HttpResponse:
    """GET asks for a name and a universe (prefilled); POST creates the strategy and opens it."""
    preset = presets.preset_get(key)
    if preset is None:
        raise services.PresetNotFound(key)
    if request.method == "POST":
        form = PresetCloneForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                strategy = services.strategy_clone_preset(user=request.user, preset_key=key, **form.service_kwargs())
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, PRESET_CLONED.format(name=strategy.name))
                return redirect("strategies:edit", pk=strategy.pk)
    else:
        initial = {
            "name": services.preset_strategy_name(user=request.user, preset=preset),
            "universe_source": UniverseSource.INSTRUMENTS,
            "instruments": codes_text(services.default_universe_codes()),
        }
        form = PresetCloneForm(user=request.user, initial=initial)
    context = {"page_title": _("Use a preset"), "nav": "strategies", "form": form, "preset": _preset_view(preset),
               "type_label": schema.type_label(preset.strategy_type)}  # fmt: skip
    return render(request, "strategies/preset_clone.html", context, status=400 if form.errors else 200)


# ---------------------------------------------------------------------------------------------------
# Watchlists
# ---------------------------------------------------------------------------------------------------
@login_required
def watchlist_index(request: HttpRequest) -> HttpResponse:
    context = {"page_title": _("Watchlists"), "nav": "strategies",
               "watchlists": selectors.watchlist_list(user=request.user)}  # fmt: skip
    return render(request, "strategies/watchlists.html", context)


def _watchlist_form_page(request: HttpRequest, form: WatchlistForm, watchlist=None) -> HttpResponse:
    context = {"page_title": watchlist.name if watchlist else _("New watchlist"), "nav": "strategies",
               "form": form, "watchlist": watchlist}  # fmt: skip
    return render(request, "strategies/watchlist_form.html", context, status=400 if form.errors else 200)


@login_required
def watchlist_create(request: HttpRequest) -> HttpResponse:
    form = WatchlistForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            watchlist = services.watchlist_create(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, WATCHLIST_CREATED.format(name=watchlist.name))
            return redirect("strategies:watchlists")
    return _watchlist_form_page(request, form)


@login_required
def watchlist_edit(request: HttpRequest, pk: int) -> HttpResponse:
    watchlist = selectors.watchlist_get(user=request.user, pk=pk)
    initial = {"name": watchlist.name, "instruments": codes_text(watchlist.codes())}
    form = WatchlistForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            watchlist = services.watchlist_update(watchlist=watchlist, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, WATCHLIST_SAVED.format(name=watchlist.name))
            return redirect("strategies:watchlists")
    return _watchlist_form_page(request, form, watchlist)


@login_required
def watchlist_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm; POST deletes, or says which strategies still use the watchlist."""
    watchlist = selectors.watchlist_get(user=request.user, pk=pk)
    if request.method == "POST":
        try:
            services.watchlist_delete(watchlist=watchlist)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("strategies:watchlist_edit", pk=watchlist.pk)
        messages.success(request, WATCHLIST_DELETED.format(name=watchlist.name))
        return redirect("strategies:watchlists")
    used_by = selectors.strategy_list(user=request.user, filters={"watchlist": watchlist.pk}).order_by("name")
    context = {"page_title": _("Delete watchlist"), "nav": "strategies", "object": watchlist,
               "cancel_url": "strategies:watchlist_edit", "kind": "watchlist", "used_by": used_by}  # fmt: skip
    return render(request, "strategies/confirm_delete.html", context)
