"""Pages of the order ledger (orders, order ticket, positions, kill switches), in the ``trading``
namespace under ``/trading/``."""

from django.urls import path

from trading.orders import account_views, views

urlpatterns: list = [
    path("orders/", views.order_list, name="order_list"),
    path("orders/new/", views.order_ticket, name="order_ticket"),
    path("orders/new/symbols/", views.ticket_symbols, name="ticket_symbols"),
    path("orders/new/symbol/", views.ticket_symbol, name="ticket_symbol"),
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("orders/<int:pk>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<int:pk>/revise/", views.order_revise, name="order_revise"),
    path("positions/", account_views.positions, name="positions"),
    path("positions/<int:pk>/resolve/", account_views.position_resolve, name="position_resolve"),
    path("fills.csv", account_views.fills_csv, name="fills_csv"),
    path("accounts/<int:pk>/reconcile/", account_views.account_reconcile, name="account_reconcile"),
    path("kill-switches/", account_views.kill_switches, name="kill_switches"),
]
