from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = _("Trading")

    def ready(self) -> None:
        post_migrate.connect(create_cache_tables, sender=self)
        from trading import checks  # noqa: F401 - registers the settings checks
        from trading.killswitch import kill_switch_send_check
        from trading.orders import services

        services.send_check_add(kill_switch_send_check)  # a queued order is rejected unsent under a switch


def create_cache_tables(*, using: str, **kwargs) -> None:
    """The table of every database cache (embedded mode's ``brokers`` alias keeps the shared broker
    tokens there), so ``./dev run``, tests and containers have it after ``migrate``. Idempotent."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)
