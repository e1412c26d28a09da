from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.metrics import tasks as metrics_tasks

        metrics_tasks.connect()  # Celery task metrics and a worker's/beat's own metrics port
