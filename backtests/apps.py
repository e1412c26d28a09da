from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BacktestsConfig(AppConfig):
    name = "backtests"
    verbose_name = _("Backtests")

    def ready(self) -> None:
        from backtests import signals  # noqa: F401
        from core import edge

        # A finished run's results page and results API never change: the edge keeps them
        # (the views offer them only for succeeded runs; backtests.signals forgets them).
        edge.route(r"/backtests/(\d+)/", kind=edge.PAGE)
        edge.route(r"/api/v1/backtests/(\d+)/results/", kind=edge.API)
