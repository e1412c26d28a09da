"""API of the order ledger under ``/api/v1/`` (orders, positions, fills, kill switches)."""

from django.urls import path

from trading.orders import api, api_killswitch, api_positions

api_urlpatterns: list = [
    path("orders/", api.OrderListApi.as_view(), name="order_list"),
    path("orders/<int:pk>/", api.OrderDetailApi.as_view(), name="order_detail"),
    path("orders/<int:pk>/cancel/", api.OrderCancelApi.as_view(), name="order_cancel"),
    path("orders/<int:pk>/revise/", api.OrderReviseApi.as_view(), name="order_revise"),
    path("positions/", api_positions.PositionListApi.as_view(), name="position_list"),
    path("positions/<int:pk>/resolve/", api_positions.PositionResolveApi.as_view(), name="position_resolve"),
    path("fills/", api_positions.FillListApi.as_view(), name="fill_list"),
    path("kill-switches/", api_killswitch.KillSwitchListApi.as_view(), name="kill_switch_list"),
]
