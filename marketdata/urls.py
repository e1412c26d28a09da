"""Pages under /markets/ (``urlpatterns``) and API routes for /api/v1/ (``api_urlpatterns``)."""

from django.urls import path

from marketdata import api, views

app_name = "marketdata"
urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("<str:code>/", views.detail, name="detail"),
]

# Included by config/urls.py inside the "api" namespace: api:instrument_list, ...
api_urlpatterns = [
    path("instruments/", api.InstrumentListApi.as_view(), name="instrument_list"),
    path("instruments/<str:code>/", api.InstrumentDetailApi.as_view(), name="instrument_detail"),
    path("instruments/<str:code>/bars/", api.InstrumentBarsApi.as_view(), name="instrument_bars"),
]
