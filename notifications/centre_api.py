"""API of notifications: centre."""

api_urlpatterns: list = []
