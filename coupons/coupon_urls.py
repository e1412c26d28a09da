"""Routes of the coupon box (/coupons/) and its API (/api/v1/coupons/)."""

from django.urls import path

from coupons import coupon_api, coupon_views

app_name = "coupons"
urlpatterns = [
    path("", coupon_views.index, name="index"),
]

api_urlpatterns = [
    path("coupons/", coupon_api.CouponRedemptionListApi.as_view(), name="coupon_list"),
    path("coupons/redeem/", coupon_api.CouponRedeemApi.as_view(), name="coupon_redeem"),
]
