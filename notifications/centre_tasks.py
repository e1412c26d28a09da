"""Celery tasks of notifications: centre. Imported by notifications/tasks.py (Celery discovers tasks.py)."""

from celery import shared_task

__all__ = ["centre_periodic"]


@shared_task(name="notifications.centre_periodic")
def centre_periodic() -> dict:
    """Beat, every 10 minutes: the emails held for quiet hours that are due, and the daily digests
    of the users whose digest hour it is (each user gets at most one a day)."""
    from notifications import centre_services, emails

    return {"held_emails": emails.held_emails_send(), "digests": centre_services.digests_send()}
