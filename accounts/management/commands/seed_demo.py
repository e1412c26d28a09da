"""Create the demo investor and the admin, verified, and print how to sign in."""

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import services

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-invest-2026"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-console-2026"


class Command(BaseCommand):
    help = "Create (or reset) the demo investor and the admin account. Refused in production."

    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            self.stderr.write("seed_demo is for local use: it refuses to run with DJANGO_ENV=production.")
            raise SystemExit(2)
        investor, _created = services.demo_user_ensure(email=DEMO_EMAIL, password=DEMO_PASSWORD)
        self._demo_strategy(investor)
        self._demo_replay(investor)
        services.demo_user_ensure(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, staff=True)
        self.stdout.write("Demo accounts (email verified):")
        self.stdout.write(f"  investor  {DEMO_EMAIL} / {DEMO_PASSWORD}")
        self.stdout.write(f"  admin     {ADMIN_EMAIL} / {ADMIN_PASSWORD}  (the admin console: /admin/)")

    def _demo_strategy(self, investor) -> None:
        """A first strategy (the default SMA preset on the sample stocks) to backtest right away."""
        from django.core.exceptions import ValidationError

        from strategies import services as strategies

        if investor.strategies.exists():
            return
        try:
            strategies.strategy_clone_preset(user=investor, preset_key="sma_cross.default")
        except ValidationError as error:  # no sample instruments loaded: the investor starts empty
            self.stderr.write(f"No demo strategy: {error.messages[0]}")

    def _demo_replay(self, investor) -> None:
        """A paper replay of that strategy over the sample bars' last month (``trading.live.replay``):
        the investor starts it on its deployment page and watches a month of trading in minutes."""
        from core.errors import ApplicationError
        from trading.live.replay import demo_replay_ensure

        try:
            demo_replay_ensure(user=investor)
        except ApplicationError as error:  # a plan limit, no bars: the demo starts without it
            self.stderr.write(f"No demo replay: {error.message}")
