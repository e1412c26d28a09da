"""API of the order ledger under ``/api/v1/`` (orders, positions, fills, kill switches)."""

from django.urls import path  # noqa: F401

api_urlpatterns: list = []
