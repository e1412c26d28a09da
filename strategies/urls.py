"""Pages under /strategies/ (``urlpatterns``) and API routes for /api/v1/ (``api_urlpatterns``)."""

from django.urls import path

from strategies import api, views

app_name = "strategies"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("params/", views.param_fields, name="param_fields"),
    path("instruments/", views.instrument_picker, name="instrument_picker"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/clone/", views.clone, name="clone"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("presets/", views.preset_index, name="presets"),
    path("presets/<str:key>/", views.preset_clone, name="preset_clone"),
    path("watchlists/", views.watchlist_index, name="watchlists"),
    path("watchlists/new/", views.watchlist_create, name="watchlist_create"),
    path("watchlists/<int:pk>/edit/", views.watchlist_edit, name="watchlist_edit"),
    path("watchlists/<int:pk>/delete/", views.watchlist_delete, name="watchlist_delete"),
]

# Included by config/urls.py inside the "api" namespace: api:strategy_list, ...
api_urlpatterns = [
    path("strategies/", api.StrategyListApi.as_view(), name="strategy_list"),
    path("strategies/<int:pk>/", api.StrategyDetailApi.as_view(), name="strategy_detail"),
    path("strategies/<int:pk>/clone/", api.StrategyCloneApi.as_view(), name="strategy_clone"),
    path("strategy-types/", api.StrategyTypeListApi.as_view(), name="strategy_type_list"),
    path("strategy-presets/", api.PresetListApi.as_view(), name="strategy_preset_list"),
    path("strategy-presets/<str:key>/clone/", api.PresetCloneApi.as_view(), name="strategy_preset_clone"),
    path("watchlists/", api.WatchlistListApi.as_view(), name="watchlist_list"),
    path("watchlists/<int:pk>/", api.WatchlistDetailApi.as_view(), name="watchlist_detail"),
]
