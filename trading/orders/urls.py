"""Pages of the order ledger (orders, order ticket, positions, kill switches), in the ``trading``
namespace under ``/trading/``."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
