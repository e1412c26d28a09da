"""Pages of notifications: telegram."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
