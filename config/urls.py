from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from accounts import invite_api
from backtests import views as backtests_views
from backtests.urls import api_urlpatterns as backtests_api
from core import views as core_views
from coupons.coupon_urls import api_urlpatterns as coupons_api
from coupons.urls import api_urlpatterns as plans_api
from marketdata.urls import api_urlpatterns as marketdata_api
from notifications.urls import api_urlpatterns as notifications_api
from strategies.urls import api_urlpatterns as strategies_api
from trading.urls import api_urlpatterns as trading_api

api_v1 = [
    path("auth/token/", accounts_api.TokenCreateApi.as_view(), name="token"),
    path("auth/tokens/", accounts_api.TokenListApi.as_view(), name="token_list"),
    path("auth/tokens/<int:pk>/", accounts_api.TokenDetailApi.as_view(), name="token_detail"),
    path("me", accounts_api.MeApi.as_view(), name="me"),
    path("invites/", invite_api.InviteListApi.as_view(), name="invites"),
    *marketdata_api,
    *backtests_api,
    *strategies_api,
    *trading_api,
    *coupons_api,
    *plans_api,
    *notifications_api,
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("dashboard/", core_views.dashboard, name="dashboard"),
    path("health", core_views.health, name="health"),
    path("ready", core_views.ready, name="ready"),
    # /metrics (Prometheus, METRICS_TOKEN) and /ops/alerts/ (Alertmanager's webhook, ALERTMANAGER_TOKEN)
    path("", include("core.metrics.urls")),
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("strategies/", include("strategies.urls")),
    path("backtests/", include("backtests.urls")),
    path("viewer/", backtests_views.viewer, name="viewer"),
    path("trading/", include("trading.urls")),
    path("notifications/", include("notifications.urls")),
    path("feedback/", include("notifications.feedback_urls")),
    path("markets/", include("marketdata.urls")),
    path("coupons/", include("coupons.coupon_urls")),
    path("plans/", include("coupons.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view loads Swagger UI's start-up script from this URL (?script=) instead of inline: CSP
    # GET only: an OPTIONS answer had no template to render it (a 500)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html",
                                                         http_method_names=["get", "head"]),
         name="api_docs"),
]

# MEDIA_ROOT is never served over HTTP, not even in DEBUG: it holds users' stored backtest results,
# which only owner-checked views (the results API, pages and downloads) read, through the selectors.

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
