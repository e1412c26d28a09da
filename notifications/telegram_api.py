"""API of notifications: telegram."""

api_urlpatterns: list = []
