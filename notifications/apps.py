from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # every published event passes the catalogue: the kept ones become notifications
        from core import events
        from notifications import routing

        events.route_add(routing.route)

        from notifications import ops

        ops.register()  # operators' alerts: position mismatch, deployment halted by an error, broker failing for many users
