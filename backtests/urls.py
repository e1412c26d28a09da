from django.urls import path

from backtests import api, sweeps_api, views

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

api_urlpatterns = [
    path("backtests/", api.BacktestListApi.as_view(), name="backtest_list"),
    path("backtests/<int:pk>/", api.BacktestDetailApi.as_view(), name="backtest_detail"),
    path("backtests/<int:pk>/cancel/", api.BacktestCancelApi.as_view(), name="backtest_cancel"),
    path("backtests/<int:pk>/rerun/", api.BacktestRerunApi.as_view(), name="backtest_rerun"),
    path("backtests/<int:pk>/results/", api.BacktestResultsApi.as_view(), name="backtest_results"),
    path("backtests/<int:pk>/trades/", api.BacktestTradesApi.as_view(), name="backtest_trades"),
    path("backtests/<int:pk>/signals/", api.BacktestSignalsApi.as_view(), name="backtest_signals"),
    path("backtests/<int:pk>/download/<str:name>", api.BacktestDownloadApi.as_view(), name="backtest_download"),
    path("backtest-sweeps/", sweeps_api.SweepListApi.as_view(), name="sweep_list"),
    path("backtest-sweeps/<int:pk>/", sweeps_api.SweepDetailApi.as_view(), name="sweep_detail"),
    path("backtest-sweeps/<int:pk>/cancel/", sweeps_api.SweepCancelApi.as_view(), name="sweep_cancel"),
    path("backtest-sweeps/<int:pk>/cells/<int:cell_id>/run/", sweeps_api.SweepCellRunApi.as_view(),
         name="sweep_cell_run"),
]
