"""API of notifications: feedback."""

api_urlpatterns: list = []
