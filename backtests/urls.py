from django.urls import path

from backtests import views

app_name = "backtests"
urlpatterns = [
    path("", views.index, name="index"),
]
