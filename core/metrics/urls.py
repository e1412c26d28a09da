"""Mounted at the site's root by config/urls.py: ``path("", include("core.metrics.urls"))``."""

from django.urls import path

from core.metrics import views

app_name = "metrics"
urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("ops/alerts/", views.alerts, name="alerts"),
]
