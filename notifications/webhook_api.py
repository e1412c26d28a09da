"""API of notifications: webhook."""

api_urlpatterns: list = []
