from django.urls import path

from backtests import views

app_name = "backtests"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("params/", views.param_fields, name="param_fields"),
    path("compare/", views.compare, name="compare"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/rerun/", views.rerun, name="rerun"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/trades/", views.trades, name="trades"),
    path("<int:pk>/download/<str:name>", views.download, name="download"),
    path("sweeps/", views.sweep_index, name="sweeps"),
    path("sweeps/new/", views.sweep_new, name="sweep_new"),
    path("sweeps/<int:pk>/", views.sweep_detail, name="sweep_detail"),
    path("sweeps/<int:pk>/cancel/", views.sweep_cancel, name="sweep_cancel"),
    path("sweeps/<int:pk>/cells/<int:cell_id>/run/", views.sweep_cell_run, name="sweep_cell_run"),
]
