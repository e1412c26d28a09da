"""Pages of notifications: the centre and preferences."""

from django.urls import path

from notifications import views

urlpatterns: list = [
    path("", views.index, name="index"),
]
