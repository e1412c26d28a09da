"""API of deployments under ``/api/v1/deployments/``."""

api_urlpatterns: list = []
