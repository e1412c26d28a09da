"""The site's URLs plus the metrics ones (until config/urls.py includes core.metrics.urls) and a
view that fails, for the error-rate alert's test."""

from django.urls import include, path

from config import urls as site


def boom(request):
    raise RuntimeError("a failing view for the metrics tests")


handler404 = site.handler404
handler500 = site.handler500
urlpatterns = [
    path("metrics-tests/boom", boom, name="metrics_tests_boom"),
    *([] if any(getattr(p, "urlconf_name", None) == "core.metrics.urls" for p in site.urlpatterns)
      else [path("", include("core.metrics.urls"))]),
    *site.urlpatterns,
]
