"""Admin of notifications: each area registers its models in its own module."""

from notifications import admin_announcement, admin_centre, admin_feedback, admin_telegram, admin_webhook  # noqa: F401
