from django.urls import path

from trading import api, views
from trading.live import api_urls as live_api_urls, risk_urls as live_risk_urls, urls as live_urls
from trading.orders import api_urls as order_api_urls, urls as order_urls

app_name = "trading"
urlpatterns = [
    path("", views.index, name="index"),
    path("accounts/new/", views.connect, name="connect"),
    path("accounts/new/paper/", views.paper, name="paper"),
    path("accounts/<int:pk>/", views.account, name="account"),
    path("accounts/<int:pk>/verify/", views.verify, name="verify"),
    path("accounts/<int:pk>/rotate/", views.rotate, name="rotate"),
    path("accounts/<int:pk>/rename/", views.rename, name="rename"),
    path("accounts/<int:pk>/limits/", views.limits, name="limits"),
    path("accounts/<int:pk>/delete/", views.delete, name="delete"),
    *order_urls.urlpatterns,
    *live_urls.urlpatterns,
    *live_risk_urls.urlpatterns,
]

api_urlpatterns = [
    path("broker-accounts/", api.BrokerAccountListApi.as_view(), name="broker_account_list"),
    path("broker-accounts/paper/", api.PaperAccountCreateApi.as_view(), name="broker_account_paper"),
    path("broker-accounts/<int:pk>/", api.BrokerAccountDetailApi.as_view(), name="broker_account_detail"),
    path("broker-accounts/<int:pk>/verify/", api.BrokerAccountVerifyApi.as_view(), name="broker_account_verify"),
    path("broker-accounts/<int:pk>/rotate-keys/", api.BrokerAccountRotateApi.as_view(), name="broker_account_rotate"),
    path("broker-accounts/<int:pk>/limits/", api.BrokerAccountLimitsApi.as_view(), name="broker_account_limits"),
    *order_api_urls.api_urlpatterns,
    *live_api_urls.api_urlpatterns,
    *live_risk_urls.api_urlpatterns,
]
