from django.urls import path

from notifications import announcement_urls, centre_urls, telegram_urls, views, webhook_urls

app_name = "notifications"
urlpatterns = [
    path("test/", views.send_test, name="send_test"),
    *centre_urls.urlpatterns,
    *telegram_urls.urlpatterns,
    *webhook_urls.urlpatterns,
    *announcement_urls.urlpatterns,
]

# /api/v1/ (config/urls.py)
from notifications import centre_api, feedback_api, telegram_api, webhook_api  # noqa: E402

api_urlpatterns = [
    *centre_api.api_urlpatterns,
    *telegram_api.api_urlpatterns,
    *feedback_api.api_urlpatterns,
    *webhook_api.api_urlpatterns,
]
