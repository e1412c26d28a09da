from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.metrics import tasks as metrics_tasks

        metrics_tasks.connect()  # Celery task metrics and a worker's/beat's own metrics port

        from core.logging import celery as log_celery
        from core.logging.sentry import sentry_init

        log_celery.connect()  # the request id follows a request into its tasks (docs/runbook-logs.md)
        sentry_init()  # error reports, only when SENTRY_DSN is set
