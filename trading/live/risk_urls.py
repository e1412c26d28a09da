"""Pages and API of a user's own risk settings (the spread rules over all their deployments)."""

urlpatterns: list = []
api_urlpatterns: list = []
