from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketdataConfig(AppConfig):
    name = "marketdata"
    verbose_name = _("Market data")
