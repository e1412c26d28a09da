"""Pages of notifications: announcement (mounted under /notifications/, namespace "notifications")."""

from django.urls import path

from notifications import announcement_views as views

urlpatterns: list = [
    path("announcements/<int:pk>/dismiss/", views.announcement_dismiss, name="announcement_dismiss"),
]
