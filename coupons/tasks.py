"""Celery tasks of plans: thin doors to the subscription services (the beat runs them hourly)."""

from celery import shared_task

from coupons import services


@shared_task
def end_due_subscriptions() -> int:
    """Subscriptions whose end passed: the next scheduled one starts, or the user is on the default plan."""
    return services.subscription_end_due()


@shared_task
def warn_ending_subscriptions() -> int:
    """The 7-day and 1-day warnings before a subscription ends (once each)."""
    return services.subscription_warn_due()
