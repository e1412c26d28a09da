"""Pages and API of a user's own risk settings (the spread rules over all their deployments)."""

from django.urls import path

from trading.live import risk_api, risk_views

urlpatterns: list = [
    path("risk-settings/", risk_views.risk_settings, name="risk_settings"),
]
api_urlpatterns: list = [
    path("risk-settings/", risk_api.RiskSettingsApi.as_view(), name="risk_settings"),
]
