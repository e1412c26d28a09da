"""Pages of notifications: the centre and preferences."""

from django.urls import path

from notifications import centre_views

urlpatterns: list = [
    path("", centre_views.index, name="index"),
    path("<int:pk>/read/", centre_views.mark_read, name="centre_read"),
    path("read-all/", centre_views.mark_all_read, name="centre_read_all"),
    path("preferences/", centre_views.preferences, name="preferences"),
]
