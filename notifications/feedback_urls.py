"""Pages of feedback reports (/feedback/)."""

from django.urls import path

from notifications import feedback_views

app_name = "feedback"
urlpatterns: list = [
    path("", feedback_views.feedback_list, name="list"),
    path("new/", feedback_views.feedback_new, name="new"),
    path("<int:pk>/", feedback_views.feedback_detail, name="detail"),
]
