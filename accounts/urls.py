from django.urls import path

from accounts import views
from accounts import invite_views

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("preferences/", views.preferences_switch, name="preferences_switch"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("accounts/invites/", invite_views.invites_page, name="invites"),
]
