from django.urls import path

from coupons import api, views

app_name = "plans"
urlpatterns = [
    path("", views.plans, name="index"),
    path("me/", views.me, name="me"),
]

api_urlpatterns = [
    path("plans/", api.PlanListApi.as_view(), name="plan_list"),
    path("subscription/", api.SubscriptionApi.as_view(), name="subscription"),
]
